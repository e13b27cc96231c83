// MappedFile: a whole file mapped read-only with mmap, unmapped on destruction (RAII).
// The bytes stay valid for the object's lifetime; it is movable, not copyable, and safe to read
// from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "base/status.h"

namespace ll {

class MappedFile {
 public:
  static Result<MappedFile> Open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Drops the whole pages inside [p, p + n) (which must lie in this mapping) from the process's
  // resident set: for bytes that a caller has copied elsewhere and will not read again. They
  // stay valid: reading them again faults them back in from the file.
  void DropPages(const void* p, size_t n) const;
  // Asks the kernel to read the pages of [p, p + n) ahead, in the background: for bytes about
  // to be used (a layer a device takes over). Advice: failure changes nothing.
  void WillNeed(const void* p, size_t n) const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace ll
