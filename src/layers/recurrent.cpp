// Recurrent layers still run here: the generic RNN over cells (StackedRNNCells included) and
// ConvLSTM1D/2D/3D. SimpleRNN, LSTM, GRU and the CuDNN variants are typed (format/keras/recurrent.cpp,
// op kind rnn); the cells below serve RNN(cell=...) with the same math.
//
// One loop (Recurrent) drives a chain of cells over time, following Keras's backend rnn():
// go_backwards walks the time axis from the end and returns sequences in that walking order;
// at a masked step every state keeps its previous value and the output repeats the previous
// step's output (zeros before the first step, or always zeros with zero_output_for_mask).
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "layers/common.hpp"
#include "layers/conv_core.hpp"
#include "layers/matmul.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// out[r, j] += sum_k a[r, k] * w[k, col0 + j] for r < rows, j < n; w has row length w_ld.
void add_matmul(const float* a, int64_t rows, int64_t kdim, const float* w, int64_t w_ld, int64_t col0, int64_t n,
                float* out, int64_t out_ld) {
  matmul(1, rows, kdim, n, row_major(a, kdim), row_major(w + col0, w_ld), row_major(out, out_ld),
         MatmulSum::kFloatOntoC);
}

// Copies columns [col0, col0 + n) of a (rows, ld) matrix into a dense (rows, n) one.
void take_columns(const float* src, int64_t rows, int64_t ld, int64_t col0, int64_t n, float* dst) {
  for (int64_t r = 0; r < rows; ++r) std::copy(src + r * ld + col0, src + r * ld + col0 + n, dst + r * n);
}

// An activation given by `key`; a missing key means `fallback`, an explicit null means linear.
Activation cell_activation(const Config& c, const char* key, const char* legacy_key, const char* fallback) {
  const Json& j = c.spec().config;
  const char* k = j.contains(key) ? key : (legacy_key && j.contains(legacy_key) ? legacy_key : nullptr);
  Activation a = parse_activation(k ? j[k] : Json(fallback), c.spec().where);
  if (a.changes_shape()) c.fail("activation '" + a.name + "' is not supported in a recurrent cell");
  return a;
}

int64_t cell_units(const Config& c) {
  int64_t units = c.integer("units", c.integer("output_dim", -1));  // Keras 1 called it output_dim
  if (units <= 0) c.fail("'units' must be positive");
  return units;
}

// Input width from the next weight (the kernel), as Dense does.
int64_t peek_input_dim(const Config& c, size_t rank) {
  const Weights::Entry* k = c.spec().weights.peek();
  if (!k || k->shape.size() != rank) c.fail("missing or malformed kernel weight");
  return k->shape[rank - 2];
}

// ---- cells --------------------------------------------------------------------------------------
// One step of a recurrent cell for a whole batch. The cell's output is always its first state.
class Cell {
 public:
  virtual ~Cell() = default;
  virtual size_t state_count() const = 0;
  // Per-sample state shapes for a per-sample step input shape (no batch, no time); throws on
  // inputs the cell cannot take. Dimensions may be -1.
  virtual std::vector<Shape> state_shapes(const Shape& step_in) const = 0;
  // x: (batch, step_in...); prev/next: one (batch, state...) buffer per state.
  virtual void step(const float* x, const Shape& step_in, int64_t batch, std::span<const float* const> prev,
                    std::span<float* const> next, std::vector<float>& scratch) const = 0;
  virtual int64_t param_count() const = 0;
};

// Shared by the matrix cells: input width, units and the check of the step input.
class DenseCell : public Cell {
 public:
  std::vector<Shape> state_shapes(const Shape& step_in) const override {
    if (step_in.size() != 1)
      throw Error(name_ + " expects inputs of shape (batch, time, features), got a step of shape " +
                  shape_to_string(step_in));
    if (step_in[0] >= 0 && step_in[0] != input_dim_)
      throw Error(name_ + " expects " + std::to_string(input_dim_) + " input features, got " +
                  std::to_string(step_in[0]));
    return std::vector<Shape>(state_count(), Shape{units_});
  }
  int64_t param_count() const override {
    return static_cast<int64_t>(kernel_.size() + recurrent_.size() + bias_.size());
  }

 protected:
  std::string name_;
  int64_t input_dim_ = 0, units_ = 0;
  std::vector<float> kernel_;     // (input_dim, gates*units), Keras's layout
  std::vector<float> recurrent_;  // (units, gates*units)
  std::vector<float> bias_;       // gates*units (GRU reset_after: input row, then recurrent row)
  Activation activation_, recurrent_activation_;

  // LSTM and GRU: units, activations, and kernels of `gates` blocks of units each.
  void read_gated(const Config& c, int64_t gates) {
    const LayerSpec& spec = c.spec();
    units_ = cell_units(c);
    activation_ = cell_activation(c, "activation", nullptr, "tanh");
    recurrent_activation_ = cell_activation(c, "recurrent_activation", "inner_activation", "sigmoid");
    input_dim_ = peek_input_dim(c, 2);
    kernel_ = spec.weights.take("kernel", {input_dim_, gates * units_});
    recurrent_ = spec.weights.take("recurrent_kernel", {units_, gates * units_});
  }

  // z = x·kernel + bias (or no bias), shape (batch, width).
  void project_input(const float* x, int64_t batch, int64_t width, const float* bias, float* z) const {
    for (int64_t b = 0; b < batch; ++b) {
      if (bias) std::copy(bias, bias + width, z + b * width);
      else std::fill(z + b * width, z + (b + 1) * width, 0.f);
    }
    add_matmul(x, batch, input_dim_, kernel_.data(), width, 0, width, z, width);
  }
};

class SimpleRNNCell : public DenseCell {
 public:
  explicit SimpleRNNCell(const LayerSpec& spec) {
    Config c(spec);
    name_ = "SimpleRNN";
    units_ = cell_units(c);
    activation_ = cell_activation(c, "activation", nullptr, "tanh");
    input_dim_ = peek_input_dim(c, 2);
    kernel_ = spec.weights.take("kernel", {input_dim_, units_});
    recurrent_ = spec.weights.take("recurrent_kernel", {units_, units_});
    if (c.flag("use_bias", c.flag("bias", true))) bias_ = spec.weights.take("bias", {units_});
  }
  size_t state_count() const override { return 1; }
  void step(const float* x, const Shape&, int64_t batch, std::span<const float* const> prev,
            std::span<float* const> next, std::vector<float>&) const override {
    float* h = next[0];
    project_input(x, batch, units_, bias_.empty() ? nullptr : bias_.data(), h);
    add_matmul(prev[0], batch, units_, recurrent_.data(), units_, 0, units_, h, units_);
    const int64_t shape[2] = {batch, units_};
    activation_.apply(h, shape);
  }
};

class LSTMCell : public DenseCell {
 public:
  explicit LSTMCell(const LayerSpec& spec) {
    Config c(spec);
    name_ = "LSTM";
    read_gated(c, 4);
    if (c.flag("use_bias", c.flag("bias", true))) bias_ = spec.weights.take("bias", {4 * units_});
  }
  size_t state_count() const override { return 2; }

  void step(const float* x, const Shape&, int64_t batch, std::span<const float* const> prev,
            std::span<float* const> next, std::vector<float>& scratch) const override {
    const int64_t u = units_, g = 4 * u, n = batch * u;
    scratch.resize(static_cast<size_t>(batch * g + 4 * n));
    float* z = scratch.data();
    project_input(x, batch, g, bias_.empty() ? nullptr : bias_.data(), z);
    add_matmul(prev[0], batch, u, recurrent_.data(), g, 0, g, z, g);
    // Gates in Keras's order i, f, c, o, each as its own (batch, units) array for the activations.
    float* gate[4];
    const int64_t shape[2] = {batch, u};
    for (int k = 0; k < 4; ++k) {
      gate[k] = z + batch * g + k * n;
      take_columns(z, batch, g, k * u, u, gate[k]);
      (k == 2 ? activation_ : recurrent_activation_).apply(gate[k], shape);
    }
    const float* c_prev = prev[1];
    float* h = next[0];
    float* c = next[1];
    for (int64_t i = 0; i < n; ++i) c[i] = gate[1][i] * c_prev[i] + gate[0][i] * gate[2][i];
    std::copy(c, c + n, h);
    activation_.apply(h, shape);
    for (int64_t i = 0; i < n; ++i) h[i] *= gate[3][i];
  }
};

class GRUCell : public DenseCell {
 public:
  explicit GRUCell(const LayerSpec& spec) {
    Config c(spec);
    name_ = "GRU";
    read_gated(c, 3);
    const int64_t g = 3 * units_;
    bool use_bias = c.flag("use_bias", c.flag("bias", true));
    if (c.has("reset_after")) {
      reset_after_ = c.flag("reset_after", true);
    } else {
      // Configs from before reset_after existed used the reset-before form with a (3*units,) bias.
      const Weights::Entry* b = spec.weights.peek();
      reset_after_ = use_bias && b && b->shape.size() == 2;
    }
    if (use_bias) {
      if (reset_after_) bias_ = spec.weights.take("bias", {2, g});
      else bias_ = spec.weights.take("bias", {g});
    }
  }
  size_t state_count() const override { return 1; }

  void step(const float* x, const Shape&, int64_t batch, std::span<const float* const> prev,
            std::span<float* const> next, std::vector<float>& scratch) const override {
    const int64_t u = units_, g = 3 * u, n = batch * u;
    scratch.resize(static_cast<size_t>(2 * batch * g + 3 * n));
    float* zx = scratch.data();        // x·kernel + input bias, (batch, 3u)
    float* zh = zx + batch * g;        // h·recurrent (+ recurrent bias), (batch, 3u)
    float* zg = zh + batch * g;        // update gate
    float* rg = zg + n;                // reset gate
    float* hh = rg + n;                // candidate state
    const float* h_prev = prev[0];
    project_input(x, batch, g, bias_.empty() ? nullptr : bias_.data(), zx);
    const float* rec_bias = reset_after_ && !bias_.empty() ? bias_.data() + g : nullptr;
    const int64_t rec_cols = reset_after_ ? g : 2 * u;  // reset-before projects h for z and r only
    for (int64_t b = 0; b < batch; ++b) {
      if (rec_bias) std::copy(rec_bias, rec_bias + g, zh + b * g);
      else std::fill(zh + b * g, zh + (b + 1) * g, 0.f);
    }
    add_matmul(h_prev, batch, u, recurrent_.data(), g, 0, rec_cols, zh, g);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < u; ++j) {
        zg[b * u + j] = zx[b * g + j] + zh[b * g + j];
        rg[b * u + j] = zx[b * g + u + j] + zh[b * g + u + j];
      }
    const int64_t shape[2] = {batch, u};
    recurrent_activation_.apply(zg, shape);
    recurrent_activation_.apply(rg, shape);
    if (reset_after_) {
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < u; ++j)
          hh[b * u + j] = zx[b * g + 2 * u + j] + rg[b * u + j] * zh[b * g + 2 * u + j];
    } else {
      // The reset gate scales h before its product with the candidate's recurrent kernel.
      float* rh = zh;  // reuse: (batch, u)
      for (int64_t i = 0; i < n; ++i) rh[i] = rg[i] * h_prev[i];
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < u; ++j) hh[b * u + j] = zx[b * g + 2 * u + j];
      add_matmul(rh, batch, u, recurrent_.data(), g, 2 * u, u, hh, u);
    }
    activation_.apply(hh, shape);
    float* h = next[0];
    for (int64_t i = 0; i < n; ++i) h[i] = zg[i] * h_prev[i] + (1.f - zg[i]) * hh[i];
  }

 private:
  bool reset_after_ = true;
};

// ConvLSTM: the LSTM gates computed by convolutions; states have the conv output's spatial shape.
class ConvLSTMCell : public Cell {
 public:
  ConvLSTMCell(const LayerSpec& spec, int rank) : rank_(rank) {
    Config c(spec);
    filters_ = c.integer("filters");
    if (filters_ <= 0) c.fail("'filters' must be positive");
    kernel_size_ = c.ints("kernel_size", rank_);
    strides_ = c.ints("strides", rank_, 1);
    dilation_ = c.ints("dilation_rate", rank_, 1);
    for (size_t i = 0; i < kernel_size_.size(); ++i)
      if (kernel_size_[i] <= 0 || strides_[i] <= 0 || dilation_[i] <= 0)
        c.fail("kernel_size, strides and dilation_rate must be positive");
    padding_ = c.str("padding", "valid");
    std::transform(padding_.begin(), padding_.end(), padding_.begin(), ::tolower);
    if (padding_ != "valid" && padding_ != "same") c.fail("unsupported padding '" + padding_ + "'");
    channels_first_ = c.channels_first();
    activation_ = cell_activation(c, "activation", nullptr, "tanh");
    recurrent_activation_ = cell_activation(c, "recurrent_activation", nullptr, "sigmoid");
    // The gates are computed channels-last; an activation over the last axis would then see the
    // channels instead of the last spatial axis that Keras uses for channels_first.
    for (const Activation* a : {&activation_, &recurrent_activation_})
      if (channels_first_ && (a->kind == Activation::Kind::kSoftmax || a->kind == Activation::Kind::kLogSoftmax ||
                              a->kind == Activation::Kind::kSparsemax))
        c.fail("activation '" + a->name + "' with channels_first is not supported");
    const Weights::Entry* k = spec.weights.peek();
    if (!k || k->shape.size() != static_cast<size_t>(rank_ + 2)) c.fail("missing or malformed kernel weight");
    input_dim_ = k->shape[rank_];
    Shape kshape(kernel_size_.begin(), kernel_size_.end());
    kshape.push_back(input_dim_);
    kshape.push_back(4 * filters_);
    std::vector<float> kernel = spec.weights.take("kernel", kshape);
    kshape[rank_] = filters_;
    std::vector<float> recurrent = spec.weights.take("recurrent_kernel", kshape);
    std::vector<float> bias;
    if (c.flag("use_bias", true)) bias = spec.weights.take("bias", {4 * filters_});
    // The gates are computed channels-last: the input convolution (with the bias) and the recurrent
    // one (stride and dilation 1, "same" padding) add into one running sum per gate value.
    Window in_window, rec_window;
    in_window.rank = rec_window.rank = rank_;
    in_window.padding = padding_ == "same" ? Padding::kSame : Padding::kValid;
    rec_window.padding = Padding::kSame;
    for (int i = 0; i < rank_; ++i) {
      in_window.kernel[i] = rec_window.kernel[i] = kernel_size_[i];
      in_window.stride[i] = strides_[i];
      in_window.dilation[i] = dilation_[i];
    }
    input_conv_ = ConvCore(in_window, false, input_dim_, 4 * filters_, 1, std::move(kernel), std::move(bias));
    recurrent_conv_ = ConvCore(rec_window, false, filters_, 4 * filters_, 1, std::move(recurrent), {});
  }

  size_t state_count() const override { return 2; }

  std::vector<Shape> state_shapes(const Shape& step_in) const override {
    if (step_in.size() != static_cast<size_t>(rank_ + 1))
      throw Error("ConvLSTM" + std::to_string(rank_) + "D expects a step input of rank " + std::to_string(rank_ + 1) +
                  ", got " + shape_to_string(step_in));
    int64_t ch = channels_first_ ? step_in[0] : step_in[rank_];
    if (ch >= 0 && ch != input_dim_)
      throw Error("ConvLSTM expects " + std::to_string(input_dim_) + " input channels, got " + std::to_string(ch));
    Shape out;
    if (channels_first_) out.push_back(filters_);
    for (int i = 0; i < rank_; ++i) {
      int64_t in = step_in[channels_first_ ? i + 1 : i];
      int64_t len = conv_output_length(in, kernel_size_[i], strides_[i], dilation_[i], padding_);
      if (in >= 0 && len <= 0) throw Error("ConvLSTM input " + shape_to_string(step_in) + " is too small for the kernel");
      out.push_back(len);
    }
    if (!channels_first_) out.push_back(filters_);
    return {out, out};
  }

  void step(const float* x, const Shape& step_in, int64_t batch, std::span<const float* const> prev,
            std::span<float* const> next, std::vector<float>& scratch) const override {
    Shape in_sp(rank_), out_sp(rank_);
    for (int i = 0; i < rank_; ++i) {
      in_sp[i] = step_in[channels_first_ ? i + 1 : i];
      out_sp[i] = conv_output_length(in_sp[i], kernel_size_[i], strides_[i], dilation_[i], padding_);
    }
    const int64_t in_pos = element_count(in_sp), out_pos = element_count(out_sp);
    const int64_t f = filters_, g = 4 * f, n = batch * out_pos * f;
    scratch.resize(static_cast<size_t>(batch * in_pos * input_dim_ + 2 * n + batch * out_pos * g + 4 * n));
    float* x_cl = scratch.data();              // input step, channels-last
    float* h_cl = x_cl + batch * in_pos * input_dim_;
    float* c_cl = h_cl + n;
    float* z = c_cl + n;                       // (batch, out_pos, 4f)
    float* gates = z + batch * out_pos * g;    // 4 arrays of (batch, out_pos, f)
    const float* xs = x;
    const float* hs = prev[0];
    const float* cs = prev[1];
    if (channels_first_) {
      to_channels_last(x, batch, input_dim_, in_pos, x_cl);
      to_channels_last(prev[0], batch, f, out_pos, h_cl);
      to_channels_last(prev[1], batch, f, out_pos, c_cl);
      xs = x_cl, hs = h_cl, cs = c_cl;
    }
    auto channels_last = [batch](const Shape& spatial, int64_t channels) {
      Shape s{batch};
      s.insert(s.end(), spatial.begin(), spatial.end());
      s.push_back(channels);
      return s;
    };
    const Shape x_shape = channels_last(in_sp, input_dim_), h_shape = channels_last(out_sp, f),
                z_shape = channels_last(out_sp, g);
    input_conv_.run(ConstView{xs, x_shape}, MutView{z, z_shape});
    recurrent_conv_.run(ConstView{hs, h_shape}, MutView{z, z_shape}, /*accumulate=*/true);
    const Shape& act_shape = h_shape;
    float* gate[4];
    for (int k = 0; k < 4; ++k) {
      gate[k] = gates + k * n;
      take_columns(z, batch * out_pos, g, k * f, f, gate[k]);
      (k == 2 ? activation_ : recurrent_activation_).apply(gate[k], act_shape);
    }
    // New c and h, channels-last, into the scratch of the inputs (no longer needed).
    float* c_new = z;
    float* h_new = z + n;
    for (int64_t i = 0; i < n; ++i) c_new[i] = gate[1][i] * cs[i] + gate[0][i] * gate[2][i];
    std::copy(c_new, c_new + n, h_new);
    activation_.apply(h_new, act_shape);
    for (int64_t i = 0; i < n; ++i) h_new[i] *= gate[3][i];
    if (channels_first_) {
      to_channels_first(h_new, batch, f, out_pos, next[0]);
      to_channels_first(c_new, batch, f, out_pos, next[1]);
    } else {
      std::copy(h_new, h_new + n, next[0]);
      std::copy(c_new, c_new + n, next[1]);
    }
  }

  int64_t param_count() const override { return input_conv_.param_count() + recurrent_conv_.param_count(); }

 private:
  static void to_channels_last(const float* src, int64_t batch, int64_t ch, int64_t pos, float* dst) {
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t c = 0; c < ch; ++c)
        for (int64_t p = 0; p < pos; ++p) dst[(b * pos + p) * ch + c] = src[(b * ch + c) * pos + p];
  }
  static void to_channels_first(const float* src, int64_t batch, int64_t ch, int64_t pos, float* dst) {
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t c = 0; c < ch; ++c)
        for (int64_t p = 0; p < pos; ++p) dst[(b * ch + c) * pos + p] = src[(b * pos + p) * ch + c];
  }

  int rank_;
  int64_t filters_ = 0, input_dim_ = 0;
  std::vector<int64_t> kernel_size_, strides_, dilation_;
  std::string padding_;
  bool channels_first_ = false;
  ConvCore input_conv_, recurrent_conv_;
  Activation activation_, recurrent_activation_;
};

std::string class_of(const Json& j) {
  return j.is_object() && j.contains("class_name") && j["class_name"].is_string() ? j["class_name"].get<std::string>()
                                                                                 : std::string();
}

// Keras 3 files keep a StackedRNNCells' cells in groups ".../cells/<snake_case class>[_k]" that the
// file lists in name order ("gru_cell" before "lstm_cell"). When the stream has that layout, takes
// this stack's arrays and returns them in the order of the cells list; otherwise (legacy files,
// already in layer.weights order) returns nullopt.
std::optional<std::vector<Weights::Entry>> stacked_cell_weights(const LayerSpec& spec, const Json& cells,
                                                                size_t search_from, size_t& prefix_len) {
  const Weights::Entry* next = spec.weights.peek();
  if (!next) return std::nullopt;
  size_t at = next->name.find("/cells/", search_from);
  if (at == std::string::npos) return std::nullopt;
  const std::string prefix = next->name.substr(0, at + 7);
  prefix_len = prefix.size();
  std::map<std::string, std::vector<Weights::Entry>> groups;
  while (spec.weights.peek() && spec.weights.peek()->name.rfind(prefix, 0) == 0) {
    Weights::Entry e = spec.weights.take_entry("cell weight");
    size_t slash = e.name.find('/', prefix.size());
    groups[e.name.substr(prefix.size(), slash - prefix.size())].push_back(std::move(e));
  }
  std::vector<Weights::Entry> ordered;
  std::map<std::string, int> used;
  for (const Json& cell : cells) {
    std::string base = snake_case(class_of(cell));
    auto [it, fresh] = used.try_emplace(base, 0);
    std::string group = fresh ? base : base + "_" + std::to_string(++it->second);
    auto g = groups.find(group);
    if (g == groups.end()) continue;  // a cell without weights
    for (auto& e : g->second) ordered.push_back(std::move(e));
    groups.erase(g);
  }
  if (!groups.empty()) spec.fail("the file holds weights for an unknown cell '" + groups.begin()->first + "'");
  return ordered;
}

// Cells from a serialized cell ({"class_name", "config"}); StackedRNNCells and lists are flattened.
void make_cells(const LayerSpec& outer, const Json& cell_json, std::vector<std::shared_ptr<const Cell>>& out,
                size_t search_from = 0) {
  if (cell_json.is_array()) {
    for (const Json& c : cell_json) make_cells(outer, c, out, search_from);
    return;
  }
  std::string cls = class_of(cell_json);
  if (cls.empty()) outer.fail("malformed 'cell' in the config");
  static const Json kEmpty = Json::object();
  const Json& cfg = cell_json.contains("config") && cell_json["config"].is_object() ? cell_json["config"] : kEmpty;
  std::string name = cfg.contains("name") && cfg["name"].is_string() ? cfg["name"].get<std::string>() : cls;
  LayerSpec spec{cls, "", name, cfg, outer.weights, outer.where + ", cell '" + name + "' (" + cls + ")"};
  if (cls == "StackedRNNCells") {
    if (!cfg.contains("cells") || !cfg["cells"].is_array() || cfg["cells"].empty())
      spec.fail("StackedRNNCells needs a non-empty 'cells' list");
    size_t prefix_len = 0;
    auto reordered = stacked_cell_weights(spec, cfg["cells"], search_from, prefix_len);
    if (!reordered) {
      for (const Json& c : cfg["cells"]) make_cells(spec, c, out, search_from);
      return;
    }
    Weights local(std::move(*reordered), outer.where);
    LayerSpec inner{cls, "", name, cfg, local, spec.where};
    for (const Json& c : cfg["cells"]) make_cells(inner, c, out, prefix_len);
    if (local.remaining() != 0) spec.fail("the file holds more cell weights than the cells use");
  } else if (cls == "SimpleRNNCell") {
    out.push_back(std::make_shared<SimpleRNNCell>(spec));
  } else if (cls == "LSTMCell") {
    out.push_back(std::make_shared<LSTMCell>(spec));
  } else if (cls == "GRUCell") {
    out.push_back(std::make_shared<GRUCell>(spec));
  } else if (cls == "ConvLSTMCell") {
    int64_t rank = Config(spec).integer("rank");
    if (rank < 1 || rank > 3) spec.fail("'rank' must be 1, 2 or 3");
    out.push_back(std::make_shared<ConvLSTMCell>(spec, static_cast<int>(rank)));
  } else {
    spec.fail("unsupported RNN cell class '" + cls + "'");
  }
}

// ---- the time loop ------------------------------------------------------------------------------
struct LoopSettings {
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool zero_output_for_mask = false;
};

LoopSettings loop_settings(const LayerSpec& spec) {
  Config c(spec);
  LoopSettings s;
  s.return_sequences = c.flag("return_sequences", false);
  s.return_state = c.flag("return_state", false);
  s.go_backwards = c.flag("go_backwards", false);
  s.zero_output_for_mask = c.flag("zero_output_for_mask", false);
  if (c.flag("time_major", false)) c.fail("time_major=True is not supported");
  // stateful: at inference each run starts from zero states, as a freshly loaded Keras model does.
  return s;
}

class Recurrent : public Op {
 public:
  Recurrent(std::vector<std::shared_ptr<const Cell>> cells, LoopSettings settings, std::string class_name)
      : cells_(std::move(cells)), settings_(settings), class_name_(std::move(class_name)) {
    for (const auto& c : cells_) state_total_ += c->state_count();
  }

  std::shared_ptr<const Op> bind(const Call& call) const override {
    auto bound = std::make_shared<Recurrent>(*this);
    RecurrentCallTensors tensors = recurrent_call_tensors(call, class_name_);
    bound->n_inputs_ = static_cast<int>(call.roles.size());
    bound->seq_ = tensors.sequence;
    bound->mask_ = tensors.mask;
    bound->states_ = std::move(tensors.states);
    if (!bound->states_.empty() && bound->states_.size() != state_total_)
      throw Error(call.where + ": " + class_name_ + " takes " + std::to_string(state_total_) + " initial state(s), got " +
                  std::to_string(bound->states_.size()));
    return bound;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, static_cast<size_t>(n_inputs_), class_name_.c_str());
    const Shape& s = in[seq_];
    if (s.size() < 3)
      throw Error(class_name_ + " expects inputs of shape (batch, time, ...), got " + shape_to_string(s));
    if (s[1] == 0) throw Error(class_name_ + " cannot run over a sequence of length 0");
    const int64_t batch = s[0];
    Shape step(s.begin() + 2, s.end());
    std::vector<Shape> states;
    for (const auto& c : cells_) {
      std::vector<Shape> st = c->state_shapes(step);
      step = st[0];
      states.insert(states.end(), st.begin(), st.end());
    }
    if (mask_ >= 0) {
      const Shape& m = in[mask_];
      bool ok = m.size() >= 2 && dims_agree(m[0], batch) && dims_agree(m[1], s[1]);
      for (size_t i = 2; ok && i < m.size(); ++i) ok = m[i] == 1 || m[i] < 0;
      if (!ok) throw Error(class_name_ + ": the mask " + shape_to_string(m) + " does not match the input " + shape_to_string(s));
    }
    for (size_t k = 0; k < states_.size(); ++k) {
      Shape want{batch};
      want.insert(want.end(), states[k].begin(), states[k].end());
      const Shape& got = in[states_[k]];
      bool ok = got.size() == want.size();
      for (size_t i = 0; ok && i < got.size(); ++i) ok = dims_agree(got[i], want[i]);
      if (!ok)
        throw Error(class_name_ + ": initial state " + std::to_string(k) + " has shape " + shape_to_string(got) +
                    ", expected " + shape_to_string(want));
    }
    std::vector<Shape> out;
    Shape y{batch};
    if (settings_.return_sequences) y.push_back(s[1]);
    y.insert(y.end(), step.begin(), step.end());
    out.push_back(y);
    if (settings_.return_state)
      for (const auto& st : states) {
        Shape full{batch};
        full.insert(full.end(), st.begin(), st.end());
        out.push_back(full);
      }
    return out;
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const auto& xs = in[seq_].shape;
    const int64_t batch = xs[0], steps = xs[1];
    const Shape step_in(xs.begin() + 2, xs.end());
    const int64_t step_size = element_count(step_in);

    // Per-cell step input shapes and per-state sample sizes.
    std::vector<Shape> cell_in;
    std::vector<int64_t> state_size;
    Shape cur = step_in;
    for (const auto& c : cells_) {
      cell_in.push_back(cur);
      std::vector<Shape> st = c->state_shapes(cur);
      for (const auto& s : st) state_size.push_back(element_count(s));
      cur = st[0];
    }
    const int64_t out_size = element_count(cur);
    size_t last_first_state = state_total_ - cells_.back()->state_count();

    std::vector<std::vector<float>> prev(state_total_), next(state_total_);
    for (size_t k = 0; k < state_total_; ++k) {
      prev[k].assign(static_cast<size_t>(batch * state_size[k]), 0.f);
      next[k].assign(prev[k].size(), 0.f);
      if (!states_.empty()) std::copy(in[states_[k]].data, in[states_[k]].data + prev[k].size(), prev[k].begin());
    }
    std::vector<float> x_t(static_cast<size_t>(batch * step_size));
    std::vector<float> y_prev(static_cast<size_t>(batch * out_size), 0.f), y_t(y_prev.size());
    std::vector<float> scratch;
    std::vector<const float*> prev_ptr(state_total_);
    std::vector<float*> next_ptr(state_total_);
    const float* mask = mask_ >= 0 ? in[mask_].data : nullptr;

    for (int64_t t = 0; t < steps; ++t) {
      const int64_t src = settings_.go_backwards ? steps - 1 - t : t;
      for (int64_t b = 0; b < batch; ++b) {
        const float* from = in[seq_].data + (b * steps + src) * step_size;
        std::copy(from, from + step_size, x_t.data() + b * step_size);
      }
      for (size_t k = 0; k < state_total_; ++k) prev_ptr[k] = prev[k].data(), next_ptr[k] = next[k].data();
      const float* cell_x = x_t.data();
      size_t first = 0;
      for (size_t c = 0; c < cells_.size(); ++c) {
        size_t n = cells_[c]->state_count();
        cells_[c]->step(cell_x, cell_in[c], batch, std::span(prev_ptr).subspan(first, n),
                        std::span(next_ptr).subspan(first, n), scratch);
        cell_x = next[first].data();
        first += n;
      }
      const float* y_new = next[last_first_state].data();
      for (int64_t b = 0; b < batch; ++b) {
        float* yb = y_t.data() + b * out_size;
        if (!mask || mask[b * steps + src] != 0.f) {
          std::copy(y_new + b * out_size, y_new + (b + 1) * out_size, yb);
          continue;
        }
        // Masked step: states keep their values; the output repeats the previous one (or zeros).
        for (size_t k = 0; k < state_total_; ++k)
          std::copy(prev[k].begin() + b * state_size[k], prev[k].begin() + (b + 1) * state_size[k],
                    next[k].begin() + b * state_size[k]);
        if (settings_.zero_output_for_mask) std::fill(yb, yb + out_size, 0.f);
        else std::copy(y_prev.begin() + b * out_size, y_prev.begin() + (b + 1) * out_size, yb);
      }
      if (settings_.return_sequences)
        for (int64_t b = 0; b < batch; ++b)
          std::copy(y_t.begin() + b * out_size, y_t.begin() + (b + 1) * out_size,
                    out[0].data + (b * steps + t) * out_size);
      std::swap(y_prev, y_t);
      std::swap(prev, next);
    }
    if (!settings_.return_sequences) std::copy(y_prev.begin(), y_prev.end(), out[0].data);
    if (settings_.return_state)
      for (size_t k = 0; k < state_total_; ++k) std::copy(prev[k].begin(), prev[k].end(), out[1 + k].data);
  }

  int64_t param_count() const override {
    int64_t n = 0;
    for (const auto& c : cells_) n += c->param_count();
    return n;
  }

 private:
  std::vector<std::shared_ptr<const Cell>> cells_;
  LoopSettings settings_;
  std::string class_name_;
  size_t state_total_ = 0;
  int n_inputs_ = 1, seq_ = 0, mask_ = -1;
  std::vector<int> states_;
};

template <typename CellT, typename... Args>
LayerFactory single_cell_layer(Args... args) {
  return [=](const LayerSpec& spec) -> std::shared_ptr<Op> {
    LoopSettings s = loop_settings(spec);
    std::vector<std::shared_ptr<const Cell>> cells{std::make_shared<CellT>(spec, args...)};
    return std::make_shared<Recurrent>(std::move(cells), s, spec.class_name);
  };
}

}  // namespace

void register_recurrent(const AddLayer& add) {
  add("ConvLSTM1D", single_cell_layer<ConvLSTMCell>(1));
  add("ConvLSTM2D", single_cell_layer<ConvLSTMCell>(2));
  add("ConvLSTM3D", single_cell_layer<ConvLSTMCell>(3));
  add("RNN", [](const LayerSpec& spec) -> std::shared_ptr<Op> {
    LoopSettings s = loop_settings(spec);
    if (!spec.config.contains("cell")) spec.fail("the config has no 'cell'");
    std::vector<std::shared_ptr<const Cell>> cells;
    make_cells(spec, spec.config["cell"], cells);
    if (cells.empty()) spec.fail("the RNN has no cells");
    return std::make_shared<Recurrent>(std::move(cells), s, spec.class_name);
  });
}

}  // namespace kerasrt::layers
