#include "engine/activation_codec.h"

#include "kernels/f16.h"
#include "kernels/matmul.h"

namespace ll::engine {

Status EncodeHidden(net::WireEncoding encoding, std::vector<float>&& values, net::Forward& out) {
  out.encoding = encoding;
  out.hidden.clear();
  out.packed.clear();
  out.hidden_count = static_cast<uint32_t>(values.size());
  switch (encoding) {
    case net::WireEncoding::kF32:
      out.hidden = std::move(values);
      break;
    case net::WireEncoding::kF16:
      out.packed.resize(values.size() * 2);
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t h = kernels::F32ToF16(values[i]);
        out.packed[2 * i] = static_cast<uint8_t>(h);
        out.packed[2 * i + 1] = static_cast<uint8_t>(h >> 8);
      }
      break;
    case net::WireEncoding::kQ8_0:
      if (values.size() % 32 != 0) {
        return Status::Error("q8_0 wire encoding needs n_embd to be a multiple of 32");
      }
      // Q8_0 blocks are little-endian on disk (f16 scale, 32 int8), the same on the wire.
      out.packed.resize(net::EncodedBytes(encoding, values.size()));
      kernels::QuantizeRow(kernels::DType::kQ8_0, values.data(), out.packed.data(),
                           static_cast<int64_t>(values.size()));
      break;
  }
  return Status::Ok();
}

std::vector<float> DecodeHidden(net::Forward& in) {
  if (in.encoding == net::WireEncoding::kF32) return std::move(in.hidden);
  std::vector<float> v(in.hidden_count);
  if (in.encoding == net::WireEncoding::kF16) {
    for (size_t i = 0; i < v.size(); ++i) {
      v[i] = kernels::F16ToF32(static_cast<uint16_t>(in.packed[2 * i] | in.packed[2 * i + 1] << 8));
    }
  } else {
    kernels::DequantizeRow(kernels::DType::kQ8_0, in.packed.data(), v.data(),
                           static_cast<int64_t>(v.size()));
  }
  return v;
}

}  // namespace ll::engine
