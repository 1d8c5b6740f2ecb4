// Linear-algebra op nodes: matmul (through layers/matmul) and einsum (through layers/einsum).
#include "layers/op_nodes.hpp"

#include "layers/einsum.hpp"
#include "layers/matmul.hpp"

namespace kerasrt::layers {
namespace op_nodes {
namespace {

// NumPy matmul: 1-D operands are promoted (and the extra axis dropped), batch axes broadcast.
class Matmul : public Op {
 public:
  Matmul(int a, int b, size_t inputs) : a_(a), b_(b), inputs_(inputs) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    return {plan(in[a_], in[b_]).out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    Shape sa(in[a_].shape.begin(), in[a_].shape.end()), sb(in[b_].shape.begin(), in[b_].shape.end());
    Plan p = plan(sa, sb);
    std::vector<int64_t> stride_a = broadcast_strides(p.batch_a, p.batch),
                         stride_b = broadcast_strides(p.batch_b, p.batch);
    int64_t mat_a = p.n * p.k, mat_b = p.k * p.m, batches = element_count(p.batch);
    std::vector<int64_t> idx(p.batch.size(), 0);
    for (int64_t bt = 0; bt < batches; ++bt) {
      int64_t oa = 0, ob = 0;
      for (size_t i = 0; i < idx.size(); ++i) {
        oa += idx[i] * stride_a[i];
        ob += idx[i] * stride_b[i];
      }
      matmul(1, p.n, p.k, p.m, row_major(in[a_].data + oa * mat_a, p.k), row_major(in[b_].data + ob * mat_b, p.m),
             row_major(out[0].data + bt * p.n * p.m, p.m), MatmulSum::kDouble);
      next_index(idx, p.batch);
    }
  }

 private:
  struct Plan {
    Shape batch_a, batch_b, batch, out;
    int64_t n, k, m;
  };
  static Plan plan(const Shape& a, const Shape& b) {
    if (a.empty() || b.empty()) throw Error("matmul does not take rank-0 operands");
    Plan p;
    bool vec_a = a.size() == 1, vec_b = b.size() == 1;
    p.n = vec_a ? 1 : a[a.size() - 2];
    p.k = a.back();
    int64_t kb = vec_b ? b[0] : b[b.size() - 2];
    p.m = vec_b ? 1 : b.back();
    if (!dims_agree(p.k, kb))
      throw Error("matmul shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " do not line up");
    if (p.k < 0) p.k = kb;
    p.batch_a.assign(a.begin(), a.end() - (vec_a ? 1 : 2));
    p.batch_b.assign(b.begin(), b.end() - (vec_b ? 1 : 2));
    p.batch = broadcast_shapes(p.batch_a, p.batch_b);
    p.out = p.batch;
    if (!vec_a) p.out.push_back(p.n);
    if (!vec_b) p.out.push_back(p.m);
    return p;
  }
  int a_, b_;
  size_t inputs_;
};

// einsum(subscripts, *operands) through the shared einsum (einsum.hpp).
class EinsumNode : public Op {
 public:
  EinsumNode(EinsumSubscripts subscripts, std::vector<int> operands, size_t inputs)
      : einsum_(std::move(subscripts)), operands_(std::move(operands)), inputs_(inputs) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    std::vector<Shape> shapes;
    for (int o : operands_) shapes.push_back(in[o]);
    return {einsum_.output_shape(shapes)};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::vector<ConstView> views;
    for (int o : operands_) views.push_back(in[o]);
    einsum_.run(views, out[0]);
  }

 private:
  Einsum einsum_;
  std::vector<int> operands_;
  size_t inputs_;
};

std::shared_ptr<const Op> bind_einsum(const std::string& subscripts, CallArgs& args) {
  std::vector<int> operands;
  for (size_t i = 0; i < args.positional_count(); ++i) operands.push_back(args.tensor(i, "operands"));
  if (operands.empty()) args.fail("einsum needs at least one operand");
  std::string s;
  for (char c : subscripts)
    if (c != ' ') s += c;
  std::optional<EinsumSubscripts> parsed = parse_einsum(s);
  if (!parsed) args.fail("malformed einsum subscripts '" + subscripts + "'");
  if (parsed->inputs.size() != operands.size())
    args.fail("einsum subscripts '" + subscripts + "' name " + std::to_string(parsed->inputs.size()) +
              " operands, the call passes " + std::to_string(operands.size()));
  return std::make_shared<EinsumNode>(std::move(*parsed), std::move(operands), args.input_count());
}

}  // namespace
}  // namespace op_nodes

void register_op_nodes_linalg(const AddLayer& add) {
  using namespace op_nodes;
  add_op(add, "Matmul", [](const Config&) -> Binder {
    return [](CallArgs& a) {
      int x1 = a.tensor(0, "x1"), x2 = a.tensor(1, "x2");
      return std::make_shared<Matmul>(x1, x2, a.input_count());
    };
  });
  add_op(add, "Einsum", [](const Config& c) -> Binder {
    std::string subscripts = c.str("subscripts", "");
    if (subscripts.empty()) c.fail("'subscripts' is missing");
    return [subscripts](CallArgs& a) { return bind_einsum(subscripts, a); };
  });
}

}  // namespace kerasrt::layers
