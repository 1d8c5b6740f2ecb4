// ZeroPadding1D/2D/3D and Cropping1D/2D/3D as pad nodes (cropping pads by negative amounts) and
// nearest UpSampling1D/2D/3D as upsample nodes; data keeps its dtype. UpSampling2D's bilinear and
// bicubic resize is a float32 resize node.
#include <array>
#include <cctype>

#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config

namespace kerasrt::format {
namespace {

constexpr int64_t kMaxConfigValue = int64_t{1} << 31;

int64_t checked(const Config& c, const char* key, const Json& v, int64_t lo) {
  if (!v.is_number_integer()) c.fail(std::string("'") + key + "' should hold integers, got " + v.dump());
  int64_t x = v.get<int64_t>();
  if (x < lo || x > kMaxConfigValue)
    c.fail(std::string("'") + key + "' values must be between " + std::to_string(lo) + " and 2^31, got " + v.dump());
  return x;
}

using Sides = std::vector<std::pair<int64_t, int64_t>>;  // (front, back) per spatial axis

// padding/cropping in the forms Keras writes: an int (every side), one int per axis (both sides of
// it), one (front, back) pair per axis; for one axis a bare (front, back) pair. Keras 1 also wrote
// ZeroPadding as a dict of named sides.
Sides parse_sides(const Config& c, const char* key, size_t spatial, int64_t fallback) {
  if (!c.has(key)) return Sides(spatial, {fallback, fallback});
  const Json& v = c.raw(key);
  if (v.is_number_integer()) {
    int64_t p = checked(c, key, v, 0);
    return Sides(spatial, {p, p});
  }
  if (v.is_object()) {
    static const std::array<std::array<const char*, 2>, 3> names2d = {{{"top_pad", "bottom_pad"}, {"left_pad", "right_pad"}}};
    static const std::array<std::array<const char*, 2>, 3> names1d = {{{"left_pad", "right_pad"}}};
    const auto& names = spatial == 1 ? names1d : names2d;
    if (spatial > 2) c.fail(std::string("unsupported '") + key + "' " + v.dump());
    Sides out;
    for (size_t a = 0; a < spatial; ++a) {
      auto side = [&](const char* n) { return v.contains(n) ? checked(c, key, v[n], 0) : int64_t{0}; };
      out.emplace_back(side(names[a][0]), side(names[a][1]));
    }
    return out;
  }
  if (!v.is_array()) c.fail(std::string("'") + key + "' should be an int or a list, got " + v.dump());
  if (spatial == 1 && v.size() == 2 && v[0].is_number_integer())
    return {{checked(c, key, v[0], 0), checked(c, key, v[1], 0)}};
  if (v.size() != spatial)
    c.fail(std::string("'") + key + "' should have " + std::to_string(spatial) + " entries, got " + v.dump());
  Sides out;
  for (const Json& e : v) {
    if (e.is_number_integer()) {
      int64_t p = checked(c, key, e, 0);
      out.emplace_back(p, p);
    } else if (e.is_array() && e.size() == 2) {
      out.emplace_back(checked(c, key, e[0], 0), checked(c, key, e[1], 0));
    } else {
      c.fail(std::string("'") + key + "' entries should be an int or a pair, got " + v.dump());
    }
  }
  return out;
}

std::vector<int64_t> parse_factors(const Config& c, const char* key, size_t spatial, int64_t fallback) {
  std::vector<int64_t> f = c.ints(key, spatial, fallback);
  for (int64_t v : f)
    if (v < 1 || v > kMaxConfigValue) c.fail(std::string("'") + key + "' values must be positive, got " + std::to_string(v));
  return f;
}

// The spatial axis count of a "...1D/2D/3D" class name.
size_t spatial_of(const LayerSpec& spec) { return static_cast<size_t>(spec.class_name[spec.class_name.size() - 2] - '0'); }

std::shared_ptr<const TypedLayer> pad_layer(size_t spatial, bool channels_first, const Sides& sides, int64_t sign) {
  ir::PadAttrs a{std::vector<int64_t>(spatial + 2, 0), std::vector<int64_t>(spatial + 2, 0)};
  const size_t first = channels_first ? 2 : 1;
  for (size_t d = 0; d < spatial; ++d) {
    a.before[first + d] = sign * sides[d].first;
    a.after[first + d] = sign * sides[d].second;
  }
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kPad, std::move(a));
}

// UpSampling2D's bilinear/bicubic resize of a rank-4 input, in float32.
class ResizeUpsamplingLayer : public TypedLayer {
 public:
  explicit ResizeUpsamplingLayer(ir::ResizeAttrs a) : attrs_(a) {}
  void check_call(const Call& call) const override { positional_only(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    expect_one_input(call, inputs, "UpSampling2D");
    const Shape& s = sink.type(inputs[0]).shape;
    if (s.size() != 4) throw Error(call.where + ": UpSampling2D expects an input of rank 4, got " + shape_to_string(s));
    return sink.add(ir::OpKind::kResize, attrs_, {}, {sink.cast(inputs[0], DType::kFloat32)});
  }

 private:
  ir::ResizeAttrs attrs_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_zero_padding(const LayerSpec& spec) {
  Config c(spec);
  const size_t spatial = spatial_of(spec);
  return pad_layer(spatial, c.channels_first(), parse_sides(c, "padding", spatial, 1), 1);
}

std::shared_ptr<const TypedLayer> parse_cropping(const LayerSpec& spec) {
  Config c(spec);
  const size_t spatial = spatial_of(spec);
  // Cropping1D is channels-last only and has no data_format; Cropping2D defaults to no cropping.
  const bool channels_first = spatial == 1 ? false : c.channels_first();
  return pad_layer(spatial, channels_first, parse_sides(c, "cropping", spatial, spatial == 2 ? 0 : 1), -1);
}

std::shared_ptr<const TypedLayer> parse_upsampling(const LayerSpec& spec) {
  Config c(spec);
  const size_t spatial = spatial_of(spec);
  const bool channels_first = spatial == 1 ? false : c.channels_first();
  // Keras 1 called UpSampling1D's factor "length".
  const char* key = spatial == 1 && !c.has("size") && c.has("length") ? "length" : "size";
  std::vector<int64_t> factors = parse_factors(c, key, spatial, 2);
  std::string interpolation = c.str("interpolation", "nearest");
  for (char& ch : interpolation) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (interpolation == "nearest") {
    ir::UpsampleAttrs a{std::vector<int64_t>(spatial + 2, 1)};
    const size_t first = channels_first ? 2 : 1;
    for (size_t d = 0; d < spatial; ++d) a.factors[first + d] = factors[d];
    return std::make_shared<SingleNodeLayer>(ir::OpKind::kUpsample, std::move(a));
  }
  if (spatial == 2 && (interpolation == "bilinear" || interpolation == "bicubic")) {
    ir::ResizeAttrs a;
    a.factor_h = factors[0];
    a.factor_w = factors[1];
    a.channels_first = channels_first;
    a.interpolation = interpolation == "bicubic" ? ir::Interpolation::kBicubic : ir::Interpolation::kBilinear;
    a.double_precision = true;
    return std::make_shared<ResizeUpsamplingLayer>(a);
  }
  c.fail("unsupported interpolation '" + interpolation + "'");
}

}  // namespace kerasrt::format
