// Encodes the residual stream for the wire (net::WireEncoding) and back. f32 is exact and the
// default; f16 and q8_0 trade accuracy for 2x and ~3.8x fewer bytes and are used only when the
// user asks (the run reports it).
#pragma once

#include <vector>

#include "base/status.h"
#include "net/messages.h"

namespace ll::engine {

// Moves `values` into the message in the given encoding.
Status EncodeHidden(net::WireEncoding encoding, std::vector<float>&& values, net::Forward& out);
// The message's residual stream as f32 (decoding f16/q8_0 payloads).
std::vector<float> DecodeHidden(net::Forward& in);

}  // namespace ll::engine
