// Resolving a request's output choice against the model.
#include "engine/output_choice.h"

#include <fmt/format.h>

namespace edgeserve::engine {

using core::DType;
using core::Postprocess;
using core::Status;
using core::StatusCode;

namespace {

bool is_floating(DType d) { return d == DType::kFloat32 || d == DType::kFloat16; }

// The shape with axis 1 replaced by `size` (0: removed).
core::TensorShape along_classes(const core::TensorShape& shape, int64_t size) {
  core::TensorShape out;
  for (size_t i = 0; i < shape.rank(); ++i) {
    if (i != 1)
      out.push_back(shape[i]);
    else if (size > 0)
      out.push_back(size);
  }
  return out;
}

}  // namespace

core::Result<ResolvedOutputs> resolve_output_choice(const ModelSpec& spec, const core::OutputChoice& asked) {
  ResolvedOutputs r;
  core::OutputChoice& c = r.choice;
  const size_t n = spec.outputs.size();
  const uint8_t all = static_cast<uint8_t>((1u << n) - 1);
  c.select = asked.select ? asked.select : (spec.reply.select ? spec.reply.select : all);
  if (c.select & ~all)
    return Status(StatusCode::kBadShape, fmt::format("outputs chosen by mask 0x{:02x}, but model '{}' has {} output(s)",
                                                     c.select, spec.name, n));
  c.dtype = asked.dtype ? asked.dtype : spec.reply.dtype;
  if (asked.postprocess != Postprocess::kDefault) {
    c.postprocess = asked.postprocess;
    c.k = asked.k;
  } else {
    c.postprocess = spec.reply.postprocess == Postprocess::kDefault ? Postprocess::kNone : spec.reply.postprocess;
    c.k = spec.reply.k;
  }
  bool as_made = c.postprocess == Postprocess::kNone && c.select == all;
  auto add = [&](DType dtype, const core::TensorShape& shape) -> Status {
    if (r.n_outputs == core::kMaxOutputs)
      return {StatusCode::kBadShape, fmt::format("the reply would carry more than {} outputs", core::kMaxOutputs)};
    r.outputs[r.n_outputs++] = {dtype, shape};
    r.payload_bytes += core::tensor_bytes(shape, dtype).value_or(0);
    return {};
  };
  for (size_t i = 0; i < n; ++i) {
    if (!(c.select & (1u << i))) continue;
    const auto& o = spec.outputs[i];
    const DType value_dtype = c.dtype && is_floating(o.dtype) ? *c.dtype : o.dtype;
    as_made = as_made && value_dtype == o.dtype;
    if (c.postprocess != Postprocess::kNone && o.shape.rank() < 2)
      return Status(StatusCode::kBadShape, fmt::format("{} needs outputs with a class axis (axis 1); output '{}' is {}",
                                                       core::to_string(c.postprocess), o.name, o.shape.to_string()));
    Status s;
    switch (c.postprocess) {
      case Postprocess::kArgmax:
        s = add(o.shape[1] <= kMaxUint8Classes ? DType::kUInt8 : DType::kInt32, along_classes(o.shape, 0));
        break;
      case Postprocess::kTopk:
        if (c.k > o.shape[1])
          return Status(StatusCode::kBadShape, fmt::format("topk {} of output '{}' {}, which has {} classes", c.k,
                                                           o.name, o.shape.to_string(), o.shape[1]));
        if (s = add(DType::kInt32, along_classes(o.shape, c.k)); s.ok())
          s = add(value_dtype, along_classes(o.shape, c.k));
        break;
      default:
        s = add(value_dtype, o.shape);
    }
    if (!s.ok()) return s;
  }
  r.as_made = as_made;
  return r;
}

}  // namespace edgeserve::engine
