// DelayedTransport: wraps a Transport so every message sent through it leaves `delay_ms` later,
// without blocking the sender (a thread per outbox releases messages in order). This is the
// project's own stand-in for link latency, since the kernel here has no netem; the worker's
// --link-delay-ms option uses it for emulated devices.
#pragma once

#include <memory>

#include "net/transport.h"

namespace ll::net {

std::unique_ptr<Transport> MakeDelayedTransport(std::unique_ptr<Transport> inner, double delay_ms);

}  // namespace ll::net
