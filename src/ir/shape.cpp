#include "ir/shape.hpp"

#include "ir/attrs.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

namespace {

std::vector<TensorType> infer_time_fold(TimeFold fold, std::span<const TensorType> in) {
  auto times = [](int64_t a, int64_t b) { return a < 0 || b < 0 ? int64_t{-1} : checked_mul(a, b, "batch x time"); };
  const Shape& x = in[0].shape;
  if (fold == TimeFold::kFold) {
    expect_inputs(in, 1);
    if (x.size() < 2) throw Error("folding time into batch needs an input of rank 2 or more, got " + shape_to_string(x));
    Shape out{times(x[0], x[1])};
    out.insert(out.end(), x.begin() + 2, x.end());
    return {{out, in[0].dtype}};
  }
  expect_inputs(in, 2);
  const Shape& like = in[1].shape;
  const int64_t bt = like.size() < 2 ? -1 : times(like[0], like[1]);
  if (x.empty() || like.size() < 2 || (bt >= 0 && x[0] >= 0 && bt != x[0]))
    throw Error("cannot split the batch axis of " + shape_to_string(x) + " into the batch and time of " +
                shape_to_string(like));
  Shape out{like[0], like[1]};
  out.insert(out.end(), x.begin() + 1, x.end());
  return {{out, in[0].dtype}};
}

}  // namespace

std::vector<TensorType> infer_reshape(const Node& node, std::span<const TensorType> in) {
  const auto& a = node.as<ReshapeAttrs>();
  if (a.time_fold != TimeFold::kNone) return infer_time_fold(a.time_fold, in);
  expect_inputs(in, 1);
  const Shape& x = in[0].shape;
  if (a.keep_shape) return {in[0]};
  if (!a.squeeze.empty()) {
    Shape out;
    size_t next = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (next < a.squeeze.size() && a.squeeze[next] == static_cast<int>(i)) {
        if (x[i] != 1 && x[i] != -1)
          throw Error("cannot squeeze axis " + std::to_string(i) + " of shape " + shape_to_string(x));
        ++next;
      } else {
        out.push_back(x[i]);
      }
    }
    if (next != a.squeeze.size()) throw Error("squeeze axes out of range for shape " + shape_to_string(x));
    return {{out, in[0].dtype}};
  }
  // The full form reshapes every axis; the other keeps the batch axis.
  const size_t kept = a.full ? 0 : 1;
  Shape out;
  if (!a.full) out.push_back(x.empty() ? -1 : x[0]);
  int64_t known = 1, total = 1;
  int unknown_at = -1;
  for (size_t i = kept; i < x.size(); ++i) total = (total < 0 || x[i] < 0) ? -1 : checked_mul(total, x[i], "the input to Reshape");
  for (size_t i = 0; i < a.target.size(); ++i) {
    if (a.target[i] == -1) {
      if (unknown_at >= 0) throw Error("Reshape target has more than one -1");
      unknown_at = static_cast<int>(i);
    } else if (a.target[i] < 0) {
      throw Error("Reshape target " + shape_to_string(a.target) + " has a negative size");
    } else {
      known = checked_mul(known, a.target[i], "the Reshape target");
    }
    out.push_back(a.target[i]);
  }
  if (unknown_at >= 0) {
    if (total >= 0 && (known == 0 || total % known != 0))
      throw Error("cannot reshape " + shape_to_string(x) + " to target " + shape_to_string(a.target));
    out[unknown_at + kept] = total < 0 ? -1 : total / known;
  } else if (total >= 0 && total != known) {
    throw Error("cannot reshape " + shape_to_string(x) + " to target " + shape_to_string(a.target));
  }
  return {{out, in[0].dtype}};
}

std::vector<TensorType> infer_transpose(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<TransposeAttrs>();
  const Shape& x = in[0].shape;
  if (x.size() > kMaxTransposeRank) throw Error("transpose takes at most rank " + std::to_string(kMaxTransposeRank));
  if (a.perm.size() != x.size())
    throw Error("expected an input of rank " + std::to_string(a.perm.size()) + ", got " + shape_to_string(x));
  std::vector<bool> seen(x.size(), false);
  Shape out;
  for (int p : a.perm) {
    if (p < 0 || p >= static_cast<int>(x.size()) || seen[p]) throw Error("transpose needs a permutation of the axes");
    seen[p] = true;
    out.push_back(x[p]);
  }
  return {{out, in[0].dtype}};
}

std::vector<TensorType> infer_repeat(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<RepeatAttrs>();
  Shape out = in[0].shape;
  if (a.axis < 0 || a.axis > static_cast<int>(out.size()) || a.times < 0) throw Error("bad repeat axis or count");
  out.insert(out.begin() + a.axis, a.times);
  return {{out, in[0].dtype}};
}

}  // namespace kerasrt::ir
