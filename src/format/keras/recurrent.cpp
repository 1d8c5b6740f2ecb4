// SimpleRNN, LSTM, GRU, Keras 2's CuDNNLSTM/CuDNNGRU, ConvLSTM1D/2D/3D and RNN over cells
// (SimpleRNNCell, LSTMCell, GRUCell, ConvLSTMCell, StackedRNNCells): config and weights to one rnn
// (conv_lstm) ir node per cell and call. Keras 1
// spellings and weight layouts were converted before (keras1_compat, weight_source).
//
// Stacked cells are a chain of rnn nodes that all walk the same way: Keras steps every cell at each
// time step, and a masked step keeps every cell's states and repeats the last cell's output, which a
// chain computes the same when each node sees the mask (what a masked step feeds the next cell is
// never used). Backwards chains hand sequences on in input order (reversed walking order) so every node reads
// the mask at the same position.
#include "format/keras/keras_version.hpp"
#include "format/keras/recurrent.hpp"

#include "format/keras/config.hpp"  // Config: typed reads of a layer config

#include <cctype>
#include <map>
#include <optional>

namespace kerasrt::format {
namespace {

// An activation given by `key`; a missing key means `fallback`, an explicit null means linear.
ir::Activation cell_activation(const Config& c, const char* key, const char* legacy_key, const char* fallback) {
  const Json& j = c.spec().config;
  const char* k = j.contains(key) ? key : (legacy_key && j.contains(legacy_key) ? legacy_key : nullptr);
  ir::Activation a = parse_activation(k ? j[k] : Json(fallback), c.spec());
  if (a.fn == ir::UnaryFn::kGlu) c.fail("activation 'glu' is not supported in a recurrent cell");
  return a;
}

// One cell's math and weights from a layer's or a cell's config.
RnnLayer::Cell parse_cell(const LayerSpec& spec, ir::RnnCell kind, bool cudnn) {
  Config c(spec);
  ir::RnnAttrs a;
  a.cell = kind;
  a.units = c.integer("units", c.integer("output_dim", -1));  // Keras 1 called it output_dim
  if (a.units <= 0) c.fail("'units' must be positive");
  if (cudnn) {  // fixed activations
    a.activation = {ir::UnaryFn::kTanh};
    a.recurrent_activation = {ir::UnaryFn::kSigmoid};
  } else {
    a.activation = cell_activation(c, "activation", nullptr, "tanh");
    a.recurrent_activation = a.cell == ir::RnnCell::kSimple
                                 ? ir::Activation{}
                                 : cell_activation(c, "recurrent_activation", "inner_activation",
                                                   keras_semantics(spec).recurrent_activation_default);
  }
  const Weights::Entry* k = spec.weights.peek();
  if (!k || k->shape.size() != 2) c.fail("missing or malformed kernel weight");
  a.in = k->shape[0];
  const int64_t u = a.units, g = ir::rnn_gates(a.cell) * u;
  std::vector<ir::Weight> w{stored_weight(spec.weights, "kernel", "kernel", {a.in, g}),
                            stored_weight(spec.weights, "recurrent_kernel", "recurrent_kernel", {u, g})};
  a.has_bias = cudnn || c.flag("use_bias", c.flag("bias", true));
  if (a.cell == ir::RnnCell::kGru) {
    if (cudnn) {
      a.reset_after = true;
    } else if (c.has("reset_after")) {
      a.reset_after = c.flag("reset_after", true);
    } else {
      // Configs from before reset_after existed used the reset-before form with a (3*units,) bias.
      const Weights::Entry* b = spec.weights.peek();
      a.reset_after = a.has_bias && b && b->shape.size() == 2;
    }
  }
  if (a.has_bias) {
    if (a.cell == ir::RnnCell::kLstm && cudnn) {
      // CuDNNLSTM keeps an input and a recurrent bias; the cell only ever uses their sum.
      std::vector<float> both = spec.weights.take("bias", {2 * g});
      std::vector<float> sum(both.begin(), both.begin() + g);
      for (int64_t i = 0; i < g; ++i) sum[i] += both[g + i];
      w.push_back(weight("bias", std::move(sum), {g}));
    } else if (a.cell == ir::RnnCell::kGru && a.reset_after) {
      std::vector<float> b = cudnn ? spec.weights.take("bias", {2 * g}) : spec.weights.take("bias", {2, g});
      w.push_back(weight("bias", std::move(b), {2, g}));
    } else {
      w.push_back(stored_weight(spec.weights, "bias", "bias", {g}));
    }
  }
  return {ir::OpKind::kRnn, a, std::move(w)};
}

// ConvLSTM's math and weights; `rank` spatial axes.
RnnLayer::Cell parse_conv_lstm_cell(const LayerSpec& spec, int rank) {
  Config c(spec);
  ir::ConvLstmAttrs a;
  ir::ConvAttrs& conv = a.input;
  conv.rank = rank;
  const int64_t filters = c.integer("filters");
  if (filters <= 0) c.fail("'filters' must be positive");
  const std::vector<int64_t> kernel = c.ints("kernel_size", rank), strides = c.ints("strides", rank, 1),
                             dilation = c.ints("dilation_rate", rank, 1);
  for (int i = 0; i < rank; ++i) {
    if (kernel[i] <= 0 || strides[i] <= 0 || dilation[i] <= 0)
      c.fail("kernel_size, strides and dilation_rate must be positive");
    conv.kernel[i] = kernel[i], conv.strides[i] = strides[i], conv.dilations[i] = dilation[i];
  }
  std::string padding = c.str("padding", "valid");
  for (char& ch : padding) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (padding == "valid") conv.padding = ir::ConvPadding::kValid;
  else if (padding == "same") conv.padding = ir::ConvPadding::kSame;
  else c.fail("unsupported padding '" + padding + "'");
  conv.channels_first = c.channels_first();
  a.activation = cell_activation(c, "activation", nullptr, "tanh");
  a.recurrent_activation =
      cell_activation(c, "recurrent_activation", nullptr, keras_semantics(spec).recurrent_activation_default);
  const Weights::Entry* k = spec.weights.peek();
  if (!k || k->shape.size() != static_cast<size_t>(rank + 2)) c.fail("missing or malformed kernel weight");
  conv.in_channels = k->shape[rank];
  conv.filters = 4 * filters;
  Shape kshape(kernel.begin(), kernel.end());
  kshape.push_back(conv.in_channels);
  kshape.push_back(4 * filters);
  std::vector<ir::Weight> w{stored_weight(spec.weights, "kernel", "kernel", kshape)};
  kshape[rank] = filters;
  w.push_back(stored_weight(spec.weights, "recurrent_kernel", "recurrent_kernel", kshape));
  conv.has_bias = c.flag("use_bias", true);
  if (conv.has_bias) w.push_back(stored_weight(spec.weights, "bias", "bias", {4 * filters}));
  return {ir::OpKind::kConvLstm, a, std::move(w)};
}

RnnLayer::Walk parse_walk(const Config& c) {
  RnnLayer::Walk w;
  w.return_sequences = c.flag("return_sequences", false);
  w.return_state = c.flag("return_state", false);
  w.go_backwards = c.flag("go_backwards", false);
  w.zero_output_for_mask = c.flag("zero_output_for_mask", false);
  if (c.flag("time_major", false)) c.fail("time_major=True is not supported");
  // stateful: at inference each run starts from zero states, as a freshly loaded Keras model does.
  return w;
}

std::string class_of(const Json& j) {
  return j.is_object() && j.contains("class_name") && j["class_name"].is_string() ? j["class_name"].get<std::string>()
                                                                                 : std::string();
}

const Json& config_of(const Json& j) {
  static const Json kEmpty = Json::object();
  return j.is_object() && j.contains("config") && j["config"].is_object() ? j["config"] : kEmpty;
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
void make_cells(const LayerSpec& outer, const Json& cell_json, std::vector<RnnLayer::Cell>& out, size_t search_from = 0) {
  if (cell_json.is_array()) {
    for (const Json& c : cell_json) make_cells(outer, c, out, search_from);
    return;
  }
  std::string cls = class_of(cell_json);
  if (cls.empty()) outer.fail("malformed 'cell' in the config");
  const Json& cfg = config_of(cell_json);
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
    out.push_back(parse_cell(spec, ir::RnnCell::kSimple, false));
  } else if (cls == "LSTMCell") {
    out.push_back(parse_cell(spec, ir::RnnCell::kLstm, false));
  } else if (cls == "GRUCell") {
    out.push_back(parse_cell(spec, ir::RnnCell::kGru, false));
  } else if (cls == "ConvLSTMCell") {
    const int64_t rank = Config(spec).integer("rank");
    if (rank < 1 || rank > 3) spec.fail("'rank' must be 1, 2 or 3");
    out.push_back(parse_conv_lstm_cell(spec, static_cast<int>(rank)));
  } else {
    spec.fail("unsupported RNN cell class '" + cls + "'");
  }
}

}  // namespace

int64_t RnnLayer::param_count() const {
  int64_t n = 0;
  for (const Cell& c : cells_)
    for (const ir::Weight& w : c.weights) n += w.value->size();
  return n;
}

size_t RnnLayer::Cell::state_count() const {
  if (const auto* r = std::get_if<ir::RnnAttrs>(&attrs)) return static_cast<size_t>(ir::rnn_state_count(r->cell));
  return 2;  // conv_lstm: h, c
}

size_t RnnLayer::state_count() const {
  size_t n = 0;
  for (const Cell& c : cells_) n += c.state_count();
  return n;
}

RecurrentCallTensors RnnLayer::tensors(const Call& call) const {
  RecurrentCallTensors t = recurrent_call_tensors(call, class_name_);
  const size_t want = state_count();
  if (!t.states.empty() && t.states.size() != want)
    throw Error(call.where + ": " + class_name_ + " takes " + std::to_string(want) + " initial state(s), got " +
                std::to_string(t.states.size()));
  return t;
}

std::vector<int> RnnLayer::call_with(NodeSink& sink, const Call& call, std::span<const int> inputs, const Walk& walk) const {
  RecurrentCallTensors t = tensors(call);
  const int mask = t.mask >= 0 ? sink.cast(inputs[t.mask], DType::kFloat32) : -1;  // nonzero: the step counts
  int x = inputs[t.sequence];
  std::vector<int> states;
  size_t first_state = 0;
  for (size_t k = 0; k < cells_.size(); ++k) {
    const bool last = k + 1 == cells_.size();
    ir::Attrs attrs = cells_[k].attrs;
    std::visit(
        [&](auto& a) {
          if constexpr (requires { a.reverse_output; }) {
            a.return_sequences = last ? walk.return_sequences : true;
            a.return_state = walk.return_state;
            a.go_backwards = walk.go_backwards;
            a.zero_output_for_mask = last && walk.zero_output_for_mask;
            a.reverse_output = last ? walk.reverse_output : walk.go_backwards;
            a.initial_states = !t.states.empty();
            a.has_mask = mask >= 0;
          }
        },
        attrs);
    std::vector<int> in{x};
    const size_t n = cells_[k].state_count();
    if (!t.states.empty())
      for (size_t s = 0; s < n; ++s) in.push_back(inputs[t.states[first_state + s]]);
    first_state += n;
    if (mask >= 0) in.push_back(mask);
    std::vector<int> out = sink.add(cells_[k].kind, std::move(attrs), cells_[k].weights, std::move(in));
    x = out[0];
    states.insert(states.end(), out.begin() + 1, out.end());
  }
  std::vector<int> result{x};
  result.insert(result.end(), states.begin(), states.end());
  return result;
}

std::shared_ptr<const TypedLayer> parse_rnn(const LayerSpec& spec) {
  Config c(spec);
  const std::string& cls = spec.class_name;
  RnnLayer::Walk walk = parse_walk(c);
  std::vector<RnnLayer::Cell> cells;
  if (cls == "RNN") {
    if (!spec.config.contains("cell")) spec.fail("the config has no 'cell'");
    make_cells(spec, spec.config["cell"], cells);
    if (cells.empty()) spec.fail("the RNN has no cells");
  } else if (cls.rfind("ConvLSTM", 0) == 0) {
    cells.push_back(parse_conv_lstm_cell(spec, cls == "ConvLSTM1D" ? 1 : cls == "ConvLSTM2D" ? 2 : 3));
  } else {
    const bool cudnn = cls == "CuDNNLSTM" || cls == "CuDNNGRU";
    ir::RnnCell kind = cls == "SimpleRNN"                     ? ir::RnnCell::kSimple
                       : cls == "LSTM" || cls == "CuDNNLSTM" ? ir::RnnCell::kLstm
                                                             : ir::RnnCell::kGru;
    cells.push_back(parse_cell(spec, kind, cudnn));
  }
  return std::make_shared<RnnLayer>(cls, std::move(cells), walk);
}

}  // namespace kerasrt::format
