// Transport: moves opaque byte messages between processes; knows nothing of their meaning
// (that is messages.h). Every process has one Inbox bound at its endpoint and one Outbox per peer
// it sends to. The ZeroMQ implementation uses PULL/PUSH sockets over TCP; sends are queued and
// written by ZeroMQ's I/O thread, so a sender does not wait for the wire (transfers overlap
// compute). Tests may substitute their own Transport to inject faults.
//
// Threading: an Inbox or Outbox is used by one thread at a time; the Transport itself may be
// shared.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace ll::net {

class Inbox {
 public:
  virtual ~Inbox() = default;
  // Waits up to timeout_ms (-1: forever) for one message; nullopt on timeout.
  virtual Result<std::optional<std::vector<uint8_t>>> Receive(int timeout_ms) = 0;
  // The endpoint peers connect to (with the real port when bound to port '*').
  virtual const std::string& endpoint() const = 0;
};

class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual Status Send(const std::vector<uint8_t>& bytes) = 0;
  virtual const std::string& endpoint() const = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<std::unique_ptr<Inbox>> Bind(const std::string& endpoint) = 0;
  virtual Result<std::unique_ptr<Outbox>> Connect(const std::string& endpoint) = 0;
};

// ZeroMQ over TCP (or ipc/inproc endpoints, which ZeroMQ also accepts).
std::unique_ptr<Transport> MakeZmqTransport();

}  // namespace ll::net
