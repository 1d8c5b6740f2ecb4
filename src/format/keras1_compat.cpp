#include "format/keras1_compat.hpp"

#include <algorithm>
#include <map>

namespace kerasrt::format {
namespace {

bool is_model_class(const std::string& c) { return c == "Functional" || c == "Model" || c == "Sequential"; }

std::string str_of(const Json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool has(const Json& c, const char* key) { return c.contains(key) && !c[key].is_null(); }

// Moves `from` to `to` unless the config already has `to`.
void rename(Json& c, const char* from, const char* to) {
  if (!c.contains(from)) return;
  if (!has(c, to)) c[to] = c[from];
  c.erase(from);
}

std::string data_format_of(const Json& ordering) {
  std::string o = ordering.is_string() ? ordering.get<std::string>() : "";
  return o == "th" ? "channels_first" : "channels_last";  // "tf", "default" (Keras 1's usual)
}

const std::map<std::string, std::string>& class_renames() {
  static const std::map<std::string, std::string> m = {
      {"Convolution1D", "Conv1D"},
      {"Convolution2D", "Conv2D"},
      {"Convolution3D", "Conv3D"},
      {"AtrousConvolution1D", "Conv1D"},
      {"AtrousConvolution2D", "Conv2D"},
      {"Deconvolution2D", "Conv2DTranspose"},
      {"Deconvolution3D", "Conv3DTranspose"},
      {"SeparableConvolution2D", "SeparableConv2D"},
      {"Convolution2DTranspose", "Conv2DTranspose"},
  };
  return m;
}

class Translator {
 public:
  explicit Translator(std::string file) : file_(std::move(file)) {}

  void model(Json& m) {
    if (!m.is_object() || !m.contains("config")) return;
    Json& cfg = m["config"];
    Json* layers = cfg.is_array() ? &cfg : cfg.is_object() && cfg.contains("layers") && cfg["layers"].is_array()
                                               ? &cfg["layers"]
                                               : nullptr;
    if (!layers) return;
    for (Json& e : *layers) layer(e);
  }

  void layer(Json& e) {
    if (!e.is_object()) return;
    std::string cls = str_of(e, "class_name");
    if (is_model_class(cls)) return model(e);
    if (!e.contains("config") || !e["config"].is_object()) return;
    Json& c = e["config"];
    std::string name = str_of(c, "name");
    if (name.empty()) name = str_of(e, "name");
    where_ = file_ + ", layer '" + name + "' (" + cls + ")";

    if (auto it = class_renames().find(cls); it != class_renames().end()) {
      cls = it->second;
      e["class_name"] = cls;
    }
    if (cls == "TimeDistributedDense") return time_distributed_dense(e);
    if (cls == "Merge") return merge(e);
    if (cls == "ThresholdedReLU") {
      // Removed in Keras 3; ReLU's threshold gives x above theta and 0 below.
      e["class_name"] = "ReLU";
      double theta = c.contains("theta") && c["theta"].is_number() ? c["theta"].get<double>() : 1.0;
      c.erase("theta");
      c["threshold"] = theta;
      c["negative_slope"] = 0.0;
      c["max_value"] = nullptr;
    }

    common_keys(c);
    if (cls == "Dense" || cls == "SimpleRNN" || cls == "GRU" || cls == "LSTM" || cls == "Highway" ||
        cls == "MaxoutDense")
      rename(c, "output_dim", "units");
    if (cls == "Dropout" || cls == "SpatialDropout1D" || cls == "SpatialDropout2D" || cls == "SpatialDropout3D" ||
        cls == "GaussianDropout")
      rename(c, "p", "rate");
    if (cls == "GaussianNoise") rename(c, "sigma", "stddev");
    if (cls == "LeakyReLU") rename(c, "alpha", "negative_slope");
    if (cls == "UpSampling1D") rename(c, "length", "size");
    if (cls == "Conv1D" && !has(c, "kernel_size") && c.contains("filter_length")) rename(c, "filter_length", "kernel_size");
    if ((cls == "Conv2D" || cls == "Conv2DTranspose" || cls == "SeparableConv2D") && !has(c, "kernel_size") &&
        c.contains("nb_row") && c.contains("nb_col")) {
      c["kernel_size"] = Json::array({c["nb_row"], c["nb_col"]});
      c.erase("nb_row");
      c.erase("nb_col");
    }
    if ((cls == "Conv3D" || cls == "Conv3DTranspose") && !has(c, "kernel_size") && c.contains("kernel_dim1")) {
      c["kernel_size"] = Json::array({c["kernel_dim1"], c.value("kernel_dim2", Json()), c.value("kernel_dim3", Json())});
      c.erase("kernel_dim1");
      c.erase("kernel_dim2");
      c.erase("kernel_dim3");
    }
    if (cls == "ZeroPadding2D" && c.contains("padding") && c["padding"].is_object()) {
      // Keras 1.2: {"top_pad", "bottom_pad", "left_pad", "right_pad"}
      const Json& p = c["padding"];
      c["padding"] = Json::array({Json::array({p.value("top_pad", 0), p.value("bottom_pad", 0)}),
                                  Json::array({p.value("left_pad", 0), p.value("right_pad", 0)})});
    }
    if (cls == "BatchNormalization") {
      if (c.contains("mode") && c["mode"].is_number_integer() && c["mode"].get<int>() != 0)
        throw Error(where_ + ": Keras 1 BatchNormalization mode " + std::to_string(c["mode"].get<int>()) +
                    " (sample-wise or batch statistics at inference) is not supported");
      c.erase("mode");
      if (c.contains("axis") && c["axis"].is_array() && c["axis"].size() == 1) c["axis"] = c["axis"][0];
    }
    if (cls == "LSTM" && c.contains("forget_bias_init")) {
      if (!has(c, "unit_forget_bias")) c["unit_forget_bias"] = str_of(c, "forget_bias_init") == "one";
      c.erase("forget_bias_init");
    }

    // Wrapped layers and cells.
    for (const char* key : {"layer", "backward_layer", "cell"})
      if (c.contains(key) && c[key].is_object()) layer(c[key]);
    for (const char* key : {"cell", "cells"})
      if (c.contains(key) && c[key].is_array())
        for (Json& sub : c[key]) layer(sub);
  }

 private:
  // Keys Keras 1 used across many layers.
  void common_keys(Json& c) {
    if (c.contains("dim_ordering") && !has(c, "data_format")) c["data_format"] = data_format_of(c["dim_ordering"]);
    c.erase("dim_ordering");
    rename(c, "border_mode", "padding");
    rename(c, "subsample_length", "strides");
    rename(c, "subsample", "strides");
    rename(c, "atrous_rate", "dilation_rate");
    rename(c, "nb_filter", "filters");
    rename(c, "pool_length", "pool_size");
    rename(c, "stride", "strides");
    rename(c, "inner_activation", "recurrent_activation");
    rename(c, "dropout_W", "dropout");
    rename(c, "dropout_U", "recurrent_dropout");
    rename(c, "input_dtype", "dtype");
    if (c.contains("bias") && c["bias"].is_boolean()) rename(c, "bias", "use_bias");
    // Initializers, regularizers and constraints in Keras 1 form play no part at inference.
    for (const char* key : {"init", "inner_init", "W_regularizer", "U_regularizer", "b_regularizer",
                            "W_constraint", "U_constraint", "b_constraint", "consume_less", "W_learning_rate_multiplier",
                            "b_learning_rate_multiplier"})
      c.erase(key);
  }

  void time_distributed_dense(Json& e) {
    Json& c = e["config"];
    common_keys(c);
    rename(c, "output_dim", "units");
    Json dense = Json::object();
    for (const char* key : {"units", "activation", "use_bias"})
      if (c.contains(key)) dense[key] = c[key];
    dense["name"] = str_of(c, "name");
    Json wrapper = Json::object();
    for (auto it = c.begin(); it != c.end(); ++it)
      if (it.key() == "name" || it.key() == "trainable" || it.key() == "batch_input_shape" || it.key() == "dtype")
        wrapper[it.key()] = it.value();
    wrapper["layer"] = Json{{"class_name", "Dense"}, {"config", dense}};
    e["class_name"] = "TimeDistributed";
    e["config"] = wrapper;
  }

  // Keras 1's Merge(mode=...) as the Keras 2/3 merge layer of that mode.
  void merge(Json& e) {
    Json& c = e["config"];
    if (c.contains("layers") && c["layers"].is_array())
      throw Error(where_ + ": a Keras 1 Merge of Sequential branches is not supported (rebuild it as a functional model)");
    std::string mode_type = str_of(c, "mode_type");
    if (!c.contains("mode") || !c["mode"].is_string() || (!mode_type.empty() && mode_type != "raw"))
      throw Error(where_ + ": a Keras 1 Merge with a Python function as its mode is not supported");
    std::string mode = c["mode"].get<std::string>();
    Json out = Json{{"trainable", true}};  // a layer, not a raw op node of the same name
    for (const char* key : {"name", "trainable"})
      if (c.contains(key)) out[key] = c[key];
    std::string cls;
    if (mode == "sum") cls = "Add";
    else if (mode == "mul") cls = "Multiply";
    else if (mode == "ave") cls = "Average";
    else if (mode == "max") cls = "Maximum";
    else if (mode == "concat") {
      cls = "Concatenate";
      out["axis"] = has(c, "concat_axis") ? c["concat_axis"] : Json(-1);
    } else if (mode == "dot") {
      cls = "Dot";
      out["axes"] = has(c, "dot_axes") ? c["dot_axes"] : Json(-1);
      out["normalize"] = false;
    } else {
      throw Error(where_ + ": Keras 1 Merge mode '" + mode + "' is not supported");
    }
    e["class_name"] = cls;
    e["config"] = out;
  }

  std::string file_;
  std::string where_;
};

// ---- weights ------------------------------------------------------------------------------------

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

// out[i_perm...] = in[...]: new axis k is old axis perm[k].
Weights::Entry transposed(const Weights::Entry& in, const std::vector<int>& perm) {
  Shape out_shape;
  for (int p : perm) out_shape.push_back(in.shape[static_cast<size_t>(p)]);
  auto in_st = strides_of(in.shape);
  Weights::Entry out{in.name, out_shape, std::vector<float>(in.data.size())};
  std::vector<int64_t> idx(out_shape.size(), 0);
  for (size_t flat = 0; flat < out.data.size(); ++flat) {
    int64_t src = 0;
    for (size_t k = 0; k < perm.size(); ++k) src += idx[k] * in_st[static_cast<size_t>(perm[k])];
    out.data[flat] = in.data[static_cast<size_t>(src)];
    for (size_t k = out_shape.size(); k-- > 0;) {
      if (++idx[k] < out_shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

// Reverses every axis but the last two (Keras's convert_kernel).
void flip_spatial(Weights::Entry& w) {
  if (w.shape.size() < 3) return;
  Weights::Entry src = w;
  auto st = strides_of(w.shape);
  std::vector<int64_t> idx(w.shape.size(), 0);
  size_t spatial = w.shape.size() - 2;
  for (size_t flat = 0; flat < w.data.size(); ++flat) {
    int64_t from = 0;
    for (size_t k = 0; k < idx.size(); ++k)
      from += (k < spatial ? w.shape[k] - 1 - idx[k] : idx[k]) * st[k];
    w.data[flat] = src.data[static_cast<size_t>(from)];
    for (size_t k = idx.size(); k-- > 0;) {
      if (++idx[k] < w.shape[k]) break;
      idx[k] = 0;
    }
  }
}

// Joins arrays of equal leading shape along the last axis.
Weights::Entry concat_last(const std::vector<const Weights::Entry*>& parts, const std::string& where) {
  const Shape& first = parts[0]->shape;
  if (first.empty()) throw Error(where + ": a Keras 1 recurrent weight is a scalar");
  Shape lead(first.begin(), first.end() - 1);
  int64_t rows = element_count(lead), total = 0;
  for (const auto* p : parts) {
    if (p->shape.size() != first.size() || !std::equal(lead.begin(), lead.end(), p->shape.begin()))
      throw Error(where + ": Keras 1 recurrent weights '" + parts[0]->name + "' and '" + p->name +
                  "' have incompatible shapes " + shape_to_string(first) + " and " + shape_to_string(p->shape));
    total += p->shape.back();
  }
  Shape shape = lead;
  shape.push_back(total);
  Weights::Entry out{parts[0]->name, shape, {}};
  out.data.reserve(static_cast<size_t>(rows * total));
  for (int64_t r = 0; r < rows; ++r)
    for (const auto* p : parts) {
      int64_t w = p->shape.back();
      out.data.insert(out.data.end(), p->data.begin() + r * w, p->data.begin() + (r + 1) * w);
    }
  return out;
}

std::vector<int64_t> ints_of(const Json& j) {
  std::vector<int64_t> out;
  if (j.is_number_integer()) out.push_back(j.get<int64_t>());
  if (j.is_array())
    for (const Json& v : j)
      if (v.is_number_integer()) out.push_back(v.get<int64_t>());
  return out;
}

void adapt(const Json& layer_json, std::vector<Weights::Entry>& w, const WriterInfo& writer, const std::string& where);

void adapt_keras1(const std::string& cls, const Json& c, std::vector<Weights::Entry>& w, const std::string& where) {
  bool channels_first = str_of(c, "data_format") == "channels_first";
  if (w.empty()) return;
  Weights::Entry& k = w[0];
  if (cls == "Conv1D" && k.shape.size() == 4) {
    // Keras 1 kept 1D kernels as (length, 1, in, filters), or (filters, in, length, 1) for theano.
    auto ks = ints_of(c.value("kernel_size", Json()));
    int64_t filters = c.value("filters", Json()).is_number_integer() ? c["filters"].get<int64_t>() : -1;
    bool tf_layout = !ks.empty() && k.shape[0] == ks[0] && k.shape[1] == 1 && k.shape[3] == filters;
    if (!tf_layout) k = transposed(k, {2, 3, 1, 0});
    if (k.shape[1] == 1) {
      Weights::Entry squeezed{k.name, {k.shape[0], k.shape[2], k.shape[3]}, std::move(k.data)};
      k = std::move(squeezed);
    }
  }
  if (cls == "Conv2D" && channels_first && k.shape.size() == 4) k = transposed(k, {2, 3, 1, 0});
  if (cls == "Conv2DTranspose" && k.shape.size() == 4) k = transposed(k, channels_first ? std::vector<int>{2, 3, 0, 1} : std::vector<int>{0, 1, 3, 2});
  if (cls == "Conv3D" && channels_first && k.shape.size() == 5) k = transposed(k, {2, 3, 4, 1, 0});
  if (cls == "LSTM" && w.size() == 12) {
    // Keras 1 stored each gate apart, in the order i, c, f, o; Keras 2+ joins them as i, f, c, o.
    auto pick = [&](int a, int b, int c2, int d) { return concat_last({&w[a], &w[b], &w[c2], &w[d]}, where); };
    std::vector<Weights::Entry> joined = {pick(0, 6, 3, 9), pick(1, 7, 4, 10), pick(2, 8, 5, 11)};
    w = std::move(joined);
  }
  if (cls == "GRU" && w.size() == 9) {
    auto pick = [&](int a, int b, int c2) { return concat_last({&w[a], &w[b], &w[c2]}, where); };
    std::vector<Weights::Entry> joined = {pick(0, 3, 6), pick(1, 4, 7), pick(2, 5, 8)};
    w = std::move(joined);
  }
}

void adapt(const Json& layer_json, std::vector<Weights::Entry>& w, const WriterInfo& writer, const std::string& where) {
  std::string cls = str_of(layer_json, "class_name");
  static const Json kNone;
  const Json& c = layer_json.contains("config") ? layer_json["config"] : kNone;
  if (cls == "TimeDistributed" && c.contains("layer")) return adapt(c["layer"], w, writer, where);
  if (cls == "Bidirectional" && c.contains("layer")) {
    if (w.size() % 2 != 0) return;  // the layer reports the mismatch
    std::vector<Weights::Entry> fwd(std::make_move_iterator(w.begin()), std::make_move_iterator(w.begin() + w.size() / 2));
    std::vector<Weights::Entry> bwd(std::make_move_iterator(w.begin() + w.size() / 2), std::make_move_iterator(w.end()));
    adapt(c["layer"], fwd, writer, where);
    adapt(c.contains("backward_layer") && c["backward_layer"].is_object() ? c["backward_layer"] : c["layer"], bwd,
          writer, where);
    w = std::move(fwd);
    w.insert(w.end(), std::make_move_iterator(bwd.begin()), std::make_move_iterator(bwd.end()));
    return;
  }
  if (writer.major_version == 1) adapt_keras1(cls, c, w, where);
  static const std::vector<std::string> flipped = {"Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "ConvLSTM2D"};
  if (writer.backend == "theano" && !w.empty() && std::find(flipped.begin(), flipped.end(), cls) != flipped.end()) {
    // Theano convolved (flipped kernels) where other backends correlate.
    flip_spatial(w[0]);
    if (cls == "ConvLSTM2D" && w.size() > 1) flip_spatial(w[1]);
  }
}

}  // namespace

Json keras3_dialect(Json model_json, const std::string& file) {
  Translator(file).model(model_json);
  return model_json;
}

void adapt_legacy_weights(const Json& layer_json, std::vector<Weights::Entry>& weights, const WriterInfo& writer,
                          const std::string& where) {
  if (!writer.legacy) return;
  adapt(layer_json, weights, writer, where);
}

}  // namespace kerasrt::format
