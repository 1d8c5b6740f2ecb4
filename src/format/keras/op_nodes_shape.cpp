// The keras.ops shape nodes: reshape, expand_dims, squeeze (reshape and expand_dims nodes),
// transpose, swapaxes, moveaxis (transpose nodes) and indexing x[key] (slice nodes). Axes resolve
// against the input's rank at each call; data keeps its dtype.
#include <algorithm>
#include <functional>
#include <numeric>
#include <optional>

#include "format/keras/call_args.hpp"
#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config

namespace kerasrt::format {
namespace {

// `axis` (negative from the end) as an index into `rank` axes.
int axis_in(int64_t axis, size_t rank, const CallArgs& args) {
  const auto r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) args.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

// Sorted, each once.
std::vector<int> axes_in(const std::vector<int64_t>& axes, size_t rank, const CallArgs& args) {
  std::vector<int> out;
  for (int64_t a : axes) out.push_back(axis_in(a, rank, args));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) args.fail("repeated axis in " + shape_to_string(axes));
  return out;
}

std::optional<std::vector<int64_t>> optional_axes(const Config& c, const char* key) {
  if (!c.has(key)) return std::nullopt;
  const Json& v = c.raw(key);
  if (v.is_number_integer()) return std::vector<int64_t>{v.get<int64_t>()};
  return c.int_list(key);
}

// A node over the call's one tensor `x`; subclasses emit its nodes once the rank is known.
class UnaryShapeNode : public TypedLayer {
 public:
  void check_call(const Call& call) const override {
    CallArgs args(call);
    args.tensor(0, "x");
    args.finish();
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    CallArgs args(call);
    int x = inputs[args.tensor(0, "x")];
    args.finish();
    return {emit(sink, x, args)};
  }

 protected:
  virtual int emit(NodeSink& sink, int x, const CallArgs& args) const = 0;
};

class ReshapeNode : public UnaryShapeNode {
 public:
  explicit ReshapeNode(Shape target) : target_(std::move(target)) {}

 protected:
  int emit(NodeSink& sink, int x, const CallArgs&) const override {
    ir::ReshapeAttrs a;
    a.target = target_;
    a.full = true;
    return sink.add(ir::OpKind::kReshape, a, {}, {x}).at(0);
  }

 private:
  Shape target_;
};

// expand_dims: `axes` name positions in the output; each run of adjacent ones is one node.
class ExpandDimsNode : public UnaryShapeNode {
 public:
  explicit ExpandDimsNode(std::vector<int64_t> axes) : axes_(std::move(axes)) {}

 protected:
  int emit(NodeSink& sink, int x, const CallArgs& args) const override {
    std::vector<int> at = axes_in(axes_, sink.type(x).shape.size() + axes_.size(), args);
    for (size_t i = 0; i < at.size();) {
      size_t j = i + 1;
      while (j < at.size() && at[j] == at[j - 1] + 1) ++j;
      // Inserting in ascending order: every earlier axis is already in place.
      x = sink.add(ir::OpKind::kExpandDims, ir::ExpandDimsAttrs{at[i], static_cast<int>(j - i)}, {}, {x}).at(0);
      i = j;
    }
    if (at.empty()) x = sink.add(ir::OpKind::kReshape, ir::ReshapeAttrs{{}, true}, {}, {x}).at(0);
    return x;
  }

 private:
  std::vector<int64_t> axes_;
};

// squeeze: the named axes, or (None) every axis known to be 1 when the node is built.
class SqueezeNode : public UnaryShapeNode {
 public:
  explicit SqueezeNode(std::optional<std::vector<int64_t>> axes) : axes_(std::move(axes)) {}

 protected:
  int emit(NodeSink& sink, int x, const CallArgs& args) const override {
    const Shape& s = sink.type(x).shape;
    ir::ReshapeAttrs a;
    if (axes_) {
      a.squeeze = axes_in(*axes_, s.size(), args);
    } else {
      for (size_t i = 0; i < s.size(); ++i)
        if (s[i] == 1) a.squeeze.push_back(static_cast<int>(i));
    }
    if (a.squeeze.empty()) a.keep_shape = true;
    return sink.add(ir::OpKind::kReshape, a, {}, {x}).at(0);
  }

 private:
  std::optional<std::vector<int64_t>> axes_;
};

// transpose, swapaxes, moveaxis: a permutation made from the input's rank.
class PermuteNode : public UnaryShapeNode {
 public:
  using Perm = std::function<std::vector<int>(size_t rank, const CallArgs& args)>;
  explicit PermuteNode(Perm perm) : perm_(std::move(perm)) {}

 protected:
  int emit(NodeSink& sink, int x, const CallArgs& args) const override {
    return sink.add(ir::OpKind::kTranspose, ir::TransposeAttrs{perm_(sink.type(x).shape.size(), args)}, {}, {x}).at(0);
  }

 private:
  Perm perm_;
};

std::vector<int> transpose_perm(const std::optional<std::vector<int64_t>>& axes, size_t rank, const CallArgs& args) {
  std::vector<int> perm(rank);
  if (!axes) {  // reversed
    for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int>(rank - 1 - i);
    return perm;
  }
  if (axes->size() != rank)
    args.fail("transpose axes " + shape_to_string(*axes) + " do not match rank " + std::to_string(rank));
  for (size_t i = 0; i < rank; ++i) perm[i] = axis_in((*axes)[i], rank, args);
  axes_in(*axes, rank, args);  // refuses a repeated axis
  return perm;
}

std::vector<int> moveaxis_perm(const std::vector<int64_t>& source, const std::vector<int64_t>& destination,
                               size_t rank, const CallArgs& args) {
  if (source.size() != destination.size()) args.fail("moveaxis needs as many sources as destinations");
  std::vector<int> src, dst;
  for (int64_t a : source) src.push_back(axis_in(a, rank, args));
  for (int64_t a : destination) dst.push_back(axis_in(a, rank, args));
  axes_in(source, rank, args);
  axes_in(destination, rank, args);
  // The axes that stay, in order, with each moved axis then put at its destination (ascending).
  std::vector<int> order;
  for (int a = 0; a < static_cast<int>(rank); ++a)
    if (std::find(src.begin(), src.end(), a) == src.end()) order.push_back(a);
  std::vector<std::pair<int, int>> moves;
  for (size_t i = 0; i < src.size(); ++i) moves.emplace_back(dst[i], src[i]);
  std::sort(moves.begin(), moves.end());
  for (auto [d, s] : moves) order.insert(order.begin() + d, s);
  return order;
}

// ---- indexing ---------------------------------------------------------------------------------

struct KeyItem {
  enum class Kind { kIndex, kSlice, kNewAxis, kEllipsis };
  Kind kind;
  int64_t index = 0;
  std::optional<int64_t> start = std::nullopt, stop = std::nullopt, step = std::nullopt;
};

std::optional<int64_t> slice_bound(const Json& cfg, const char* key, const CallArgs& args) {
  if (!cfg.contains(key) || cfg[key].is_null()) return std::nullopt;
  const Json& v = cfg[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  args.fail(std::string("slice ") + key + " should be an integer or None, got " + v.dump().substr(0, 100));
}

KeyItem key_item(const Json& j, const CallArgs& args) {
  using K = KeyItem::Kind;
  if (j.is_null()) return {K::kNewAxis};
  if (j.is_number_integer()) return {K::kIndex, j.get<int64_t>()};
  if (j.is_object() && j.contains("class_name") && j["class_name"].is_string()) {
    const std::string cls = j["class_name"].get<std::string>();
    if (cls == "__ellipsis__") return {K::kEllipsis};
    if (cls == "__slice__") {
      static const Json kEmpty = Json::object();
      const Json& cfg = j.contains("config") && j["config"].is_object() ? j["config"] : kEmpty;
      KeyItem k{K::kSlice};
      k.start = slice_bound(cfg, "start", args);
      k.stop = slice_bound(cfg, "stop", args);
      k.step = slice_bound(cfg, "step", args);
      if (k.step && *k.step == 0) args.fail("slice step cannot be zero");
      return k;
    }
  }
  if (placeholder_index(j)) args.fail("indexing with a tensor is not supported");
  args.fail("unsupported index " + j.dump().substr(0, 200) + " (only integers, slices, None and ... are)");
}

std::vector<KeyItem> key_of(CallArgs& args) {
  const Json* key = args.find(1, "key");
  if (!key) args.fail("the call has no index");
  std::vector<KeyItem> items;
  if (key->is_array()) {
    for (const Json& e : *key) items.push_back(key_item(e, args));
  } else {
    items.push_back(key_item(*key, args));
  }
  if (std::count_if(items.begin(), items.end(), [](const KeyItem& k) { return k.kind == KeyItem::Kind::kEllipsis; }) > 1)
    args.fail("an index may hold only one ellipsis");
  return items;
}

// The key with its ellipsis (explicit, or implied at the end) expanded for an input of `rank`.
ir::SliceAttrs slice_attrs(const std::vector<KeyItem>& key, size_t rank, const CallArgs& args) {
  using K = KeyItem::Kind;
  size_t consuming = 0;
  for (const KeyItem& k : key) consuming += k.kind == K::kIndex || k.kind == K::kSlice;
  if (consuming > rank)
    args.fail("too many indices (" + std::to_string(consuming) + ") for a tensor of rank " + std::to_string(rank));
  bool has_ellipsis = std::any_of(key.begin(), key.end(), [](const KeyItem& k) { return k.kind == K::kEllipsis; });
  ir::SliceAttrs a;
  int out = 0;  // output axes so far
  auto whole_axes = [&] {
    for (size_t n = rank - consuming; n > 0; --n, ++out) a.axes.push_back({});
  };
  for (const KeyItem& k : key) {
    switch (k.kind) {
      case K::kNewAxis: a.new_axes.push_back(out++); break;
      case K::kEllipsis: whole_axes(); break;
      case K::kIndex: a.axes.push_back({k.index, 0, 1, true}); break;
      case K::kSlice: {
        ir::SliceAxis s;
        s.step = k.step.value_or(1);
        // An absent bound runs to the end the step walks towards (or from the other one).
        s.start = k.start.value_or(s.step > 0 ? 0 : ir::kSliceEnd);
        s.stop = k.stop.value_or(s.step > 0 ? ir::kSliceEnd : ir::kSliceBegin);
        a.axes.push_back(s);
        ++out;
        break;
      }
    }
  }
  if (!has_ellipsis) whole_axes();
  return a;
}

class GetItemNode : public TypedLayer {
 public:
  void check_call(const Call& call) const override {
    CallArgs args(call);
    args.tensor(0, "x");
    key_of(args);
    args.finish();
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    CallArgs args(call);
    int x = inputs[args.tensor(0, "x")];
    std::vector<KeyItem> key = key_of(args);
    args.finish();
    return sink.add(ir::OpKind::kSlice, slice_attrs(key, sink.type(x).shape.size(), args), {}, {x});
  }
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_shape_op(const LayerSpec& spec) {
  Config c(spec);
  const std::string& cls = spec.class_name;
  if (cls == "Reshape")
    return std::make_shared<ReshapeNode>(c.raw("newshape").is_number_integer() ? Shape{c.integer("newshape")}
                                                                               : c.int_list("newshape"));
  if (cls == "ExpandDims") {
    if (!c.has("axis")) c.fail("expand_dims needs an 'axis'");
    return std::make_shared<ExpandDimsNode>(*optional_axes(c, "axis"));
  }
  if (cls == "Squeeze") return std::make_shared<SqueezeNode>(optional_axes(c, "axis"));
  if (cls == "Transpose") {
    std::optional<std::vector<int64_t>> axes = c.has("axes") ? std::optional(c.int_list("axes")) : std::nullopt;
    return std::make_shared<PermuteNode>([axes](size_t rank, const CallArgs& args) { return transpose_perm(axes, rank, args); });
  }
  if (cls == "Swapaxes") {
    const int64_t a1 = c.integer("axis1"), a2 = c.integer("axis2");
    return std::make_shared<PermuteNode>([a1, a2](size_t rank, const CallArgs& args) {
      std::vector<int> p(rank);
      std::iota(p.begin(), p.end(), 0);
      std::swap(p[axis_in(a1, rank, args)], p[axis_in(a2, rank, args)]);
      return p;
    });
  }
  if (cls == "Moveaxis") {
    if (!c.has("source") || !c.has("destination")) c.fail("moveaxis needs 'source' and 'destination'");
    std::vector<int64_t> src = *optional_axes(c, "source"), dst = *optional_axes(c, "destination");
    return std::make_shared<PermuteNode>(
        [src, dst](size_t rank, const CallArgs& args) { return moveaxis_perm(src, dst, rank, args); });
  }
  return std::make_shared<GetItemNode>();  // GetItem
}

}  // namespace kerasrt::format
