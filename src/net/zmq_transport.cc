#include <zmq.hpp>

#include "net/messages.h"
#include "net/transport.h"

namespace ll::net {
namespace {

// cppzmq reports failures by throwing; they are caught here and never leave this file.

class ZmqInbox final : public Inbox {
 public:
  ZmqInbox(zmq::context_t& ctx, std::string endpoint) : socket_(ctx, zmq::socket_type::pull) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxBodyBytes + kHeaderBytes));
    socket_.bind(endpoint);
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  }

  Result<std::optional<std::vector<uint8_t>>> Receive(int timeout_ms) override {
    try {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) == 0) {
        return std::optional<std::vector<uint8_t>>();
      }
      zmq::message_t msg;
      if (!socket_.recv(msg, zmq::recv_flags::dontwait)) {
        return std::optional<std::vector<uint8_t>>();
      }
      const auto* p = static_cast<const uint8_t*>(msg.data());
      return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(p, p + msg.size()));
    } catch (const zmq::error_t& e) {
      return Status::Error(std::string("receive on ") + endpoint_ + ": " + e.what());
    }
  }
  const std::string& endpoint() const override { return endpoint_; }

 private:
  zmq::socket_t socket_;
  std::string endpoint_;
};

class ZmqOutbox final : public Outbox {
 public:
  ZmqOutbox(zmq::context_t& ctx, std::string endpoint)
      : socket_(ctx, zmq::socket_type::push), endpoint_(std::move(endpoint)) {
    socket_.set(zmq::sockopt::linger, 2000);  // let queued results leave on shutdown
    socket_.set(zmq::sockopt::immediate, 0);
    socket_.connect(endpoint_);
  }

  Status Send(const std::vector<uint8_t>& bytes) override {
    try {
      socket_.send(zmq::buffer(bytes), zmq::send_flags::none);
      return Status::Ok();
    } catch (const zmq::error_t& e) {
      return Status::Error("send to " + endpoint_ + ": " + e.what());
    }
  }
  const std::string& endpoint() const override { return endpoint_; }

 private:
  zmq::socket_t socket_;
  std::string endpoint_;
};

class ZmqTransport final : public Transport {
 public:
  Result<std::unique_ptr<Inbox>> Bind(const std::string& endpoint) override {
    try {
      return std::unique_ptr<Inbox>(new ZmqInbox(ctx_, endpoint));
    } catch (const zmq::error_t& e) {
      return Status::Error("cannot listen on " + endpoint + ": " + e.what());
    }
  }
  Result<std::unique_ptr<Outbox>> Connect(const std::string& endpoint) override {
    try {
      return std::unique_ptr<Outbox>(new ZmqOutbox(ctx_, endpoint));
    } catch (const zmq::error_t& e) {
      return Status::Error("cannot connect to " + endpoint + ": " + e.what());
    }
  }

 private:
  zmq::context_t ctx_{1};
};

}  // namespace

std::unique_ptr<Transport> MakeZmqTransport() { return std::make_unique<ZmqTransport>(); }

}  // namespace ll::net
