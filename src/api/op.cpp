// Shared pieces of the layer interface (include/kerasrt/op.hpp).
#include <kerasrt/op.hpp>


namespace kerasrt {

int Call::positional_count() const {
  int n = 0;
  for (const auto& r : roles) n += r.empty();
  return n;
}

std::vector<int> Call::tensors_with_role(std::string_view role) const {
  std::vector<int> out;
  for (size_t i = 0; i < roles.size(); ++i)
    if (roles[i] == role) out.push_back(static_cast<int>(i));
  return out;
}

std::shared_ptr<const Op> Op::bind(const Call& call) const {
  for (const auto& r : call.roles)
    if (!r.empty())
      throw Error(call.where + ": keyword argument '" + r + "' with a tensor is not supported by this layer");
  return shared_from_this();
}

Weights::Entry Weights::take_checked(std::string_view what, const Shape& expected) {
  if (next_ >= entries_.size())
    throw Error(where_ + ": missing weight '" + std::string(what) + "' (the file holds " +
                std::to_string(entries_.size()) + " arrays for this layer)");
  Entry e = std::move(entries_[next_++]);
  taken_values_ += element_count(e.shape);
  bool ok = e.shape.size() == expected.size();
  for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || expected[i] == e.shape[i];
  if (!ok)
    throw Error(where_ + ": weight '" + std::string(what) + "' ('" + e.name + "') has shape " +
                shape_to_string(e.shape) + ", expected " + shape_to_string(expected));
  return e;
}

std::vector<float> Weights::take(std::string_view what, const Shape& expected) {
  Entry e = take_checked(what, expected);
  if (e.tensor) return e.tensor->to_floats();
  return std::move(e.data);
}

std::shared_ptr<const Tensor> Weights::take_tensor(std::string_view what, const Shape& expected) {
  Entry e = take_checked(what, expected);
  if (e.tensor) return e.tensor;
  return std::make_shared<const Tensor>(std::move(e.shape), std::move(e.data));
}

Weights::Entry Weights::take_entry(std::string_view what) {
  if (next_ >= entries_.size())
    throw Error(where_ + ": missing weight '" + std::string(what) + "' (the file holds " +
                std::to_string(entries_.size()) + " arrays for this layer)");
  Entry e = std::move(entries_[next_++]);
  taken_values_ += element_count(e.shape);
  if (e.tensor && e.data.empty()) e.data = e.tensor->to_floats();
  return e;
}

void LayerSpec::fail(const std::string& what) const { throw Error(where + ": " + what); }

}  // namespace kerasrt
