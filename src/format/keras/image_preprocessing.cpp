// Deterministic image preprocessing layers: Resizing and CenterCrop as resize nodes, AutoContrast,
// Equalization (an equalize node in training mode only; at inference Keras returns the input) and
// ContrastLimitedAdaptiveHistogramEqualization. Inputs are computed in float32.
#include <algorithm>
#include <tuple>

#include "format/keras/typed_layer.hpp"
#include "format/keras/call_args.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config

namespace kerasrt::format {
namespace {

constexpr int64_t kMaxSide = int64_t{1} << 20;  // sanity bound on configured output sizes

// One float32 image node; `active` false (Equalization at inference) passes the input through.
class ImageLayer : public TypedLayer {
 public:
  ImageLayer(std::string cls, ir::OpKind kind, ir::Attrs attrs, bool training_only = false)
      : cls_(std::move(cls)), kind_(kind), attrs_(std::move(attrs)), training_only_(training_only) {}
  void check_call(const Call& call) const override { positional_only(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    positional_only(call);
    expect_one_input(call, inputs, cls_);
    const Shape& s = sink.type(inputs[0]).shape;
    if (s.size() != 3 && s.size() != 4)
      throw Error(call.where + ": expects a rank-3 image or a rank-4 batch of images, got " + shape_to_string(s));
    const int x = sink.cast(inputs[0], DType::kFloat32);
    if (training_only_ && !call_wants_training(call)) {
      if (x != inputs[0]) return {x};
      return sink.add(ir::OpKind::kReshape, ir::ReshapeAttrs{{}, true}, {}, {x});
    }
    return sink.add(kind_, attrs_, {}, {x});
  }

 private:
  std::string cls_;
  ir::OpKind kind_;
  ir::Attrs attrs_;
  bool training_only_;
};

void read_target_size(const Config& c, int64_t& height, int64_t& width) {
  height = c.integer("height");
  width = c.integer("width");
  if (height < 1 || width < 1 || height > kMaxSide || width > kMaxSide)
    c.fail("'height' and 'width' must be in [1, " + std::to_string(kMaxSide) + "]");
}

std::pair<double, double> sorted_range(const Config& c, const char* key) {
  if (!c.has(key)) return {0.0, 255.0};
  const Json& v = c.raw(key);
  if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
    c.fail(std::string("'") + key + "' should be a list of two numbers, got " + v.dump());
  double a = v[0].get<double>(), b = v[1].get<double>();
  return {std::min(a, b), std::max(a, b)};
}

}  // namespace

std::shared_ptr<const TypedLayer> parse_resizing(const LayerSpec& spec) {
  Config c(spec);
  ir::ResizeAttrs a;
  read_target_size(c, a.height, a.width);
  a.channels_first = c.channels_first();
  const std::string interp = c.str("interpolation", "bilinear");
  if (interp == "bilinear") a.interpolation = ir::Interpolation::kBilinear;
  else if (interp == "nearest") a.interpolation = ir::Interpolation::kNearest;
  else if (interp == "bicubic") a.interpolation = ir::Interpolation::kBicubic;
  else c.fail("unsupported interpolation '" + interp + "' (the torch backend of Keras has bilinear, nearest, bicubic)");
  const bool crop = c.flag("crop_to_aspect_ratio", false), pad = c.flag("pad_to_aspect_ratio", false);
  if (crop && pad) c.fail("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be true");
  a.fit = crop ? ir::ResizeFit::kCropToAspect : pad ? ir::ResizeFit::kPadToAspect : ir::ResizeFit::kStretch;
  if (c.str("fill_mode", "constant") != "constant") c.fail("only fill_mode 'constant' is supported");
  a.fill_value = static_cast<float>(c.number("fill_value", 0.0));
  a.antialias = c.flag("antialias", false) && a.interpolation != ir::Interpolation::kNearest;
  return std::make_shared<ImageLayer>("Resizing", ir::OpKind::kResize, a);
}

// CenterCrop: the centred height x width window; an image smaller than that in either dimension is
// cropped to the target's aspect ratio and resized bilinearly instead (Keras's smart_resize).
std::shared_ptr<const TypedLayer> parse_center_crop(const LayerSpec& spec) {
  Config c(spec);
  ir::ResizeAttrs a;
  read_target_size(c, a.height, a.width);
  a.channels_first = c.channels_first();
  a.fit = ir::ResizeFit::kCenterCrop;
  return std::make_shared<ImageLayer>("CenterCrop", ir::OpKind::kResize, a);
}

std::shared_ptr<const TypedLayer> parse_auto_contrast(const LayerSpec& spec) {
  Config c(spec);
  auto [lo, hi] = sorted_range(c, "value_range");
  if (!(hi > lo)) c.fail("'value_range' must span a positive interval");
  return std::make_shared<ImageLayer>("AutoContrast", ir::OpKind::kAutoContrast, ir::AutoContrastAttrs{lo, hi});
}

std::shared_ptr<const TypedLayer> parse_equalization(const LayerSpec& spec) {
  Config c(spec);
  ir::EqualizeAttrs a;
  a.bins = c.integer("bins", 256);
  if (a.bins < 1 || a.bins > (1 << 20)) c.fail("'bins' must be in [1, 2^20]");
  std::tie(a.low, a.high) = sorted_range(c, "value_range");
  if (!(a.high > a.low)) c.fail("'value_range' must span a positive interval");
  a.channels_first = c.channels_first();
  return std::make_shared<ImageLayer>("Equalization", ir::OpKind::kEqualize, a, true);
}

std::shared_ptr<const TypedLayer> parse_clahe(const LayerSpec& spec) {
  Config c(spec);
  ir::ClaheAttrs a;
  if (c.has("value_range")) {
    const Json& v = c.raw("value_range");
    if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
      c.fail("'value_range' should be a list of two numbers");
    a.low = v[0].get<double>();  // Keras keeps the order given
    a.high = v[1].get<double>();
    if (a.low == a.high) c.fail("'value_range' must span a non-empty interval");
  }
  a.clip_limit = c.number("clip_limit", 4.0);
  std::vector<int64_t> grid = c.ints("tile_grid_size", 2, 8);
  a.grid_h = grid[0];
  a.grid_w = grid[1];
  if (a.grid_h < 1 || a.grid_w < 1 || a.grid_h > 4096 || a.grid_w > 4096) c.fail("'tile_grid_size' must be in [1, 4096]");
  a.channels_first = c.channels_first();
  return std::make_shared<ImageLayer>("ContrastLimitedAdaptiveHistogramEqualization", ir::OpKind::kClahe, a);
}

}  // namespace kerasrt::format
