// Little-endian encoding of fixed-width scalars (u8..u64, i8..i64, f32, f64) to and from bytes:
// the one codec behind the wire protocol (net/wire.h) and the GGUF reader and writer. Bytes are
// produced and consumed by shifts, never by copying a struct or an integer's storage, so the
// result does not depend on the host's byte order. Reading is bounds-checked: a value that does
// not fit in what is left comes back as an empty optional, never as a read past the end.
// Pure functions; any thread.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

namespace ll {

// The scalars this codec handles: integers and IEEE-754 floats of 1, 2, 4 or 8 bytes (not bool,
// whose width and values are the caller's choice).
template <typename T>
concept LittleEndianScalar = std::is_arithmetic_v<T> && !std::is_same_v<T, bool> &&
                             (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);

namespace internal {
template <size_t N>
using UnsignedOfSize = std::conditional_t<
    N == 1, uint8_t,
    std::conditional_t<N == 2, uint16_t, std::conditional_t<N == 4, uint32_t, uint64_t>>>;
}  // namespace internal

// Writes v into out[0, sizeof(T)).
template <LittleEndianScalar T>
void StoreLittleEndian(T v, uint8_t* out) {
  const auto bits = std::bit_cast<internal::UnsignedOfSize<sizeof(T)>>(v);
  for (size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<uint8_t>(bits >> (8 * i));
}

// Reads a T from in[0, sizeof(T)); the caller has checked that the bytes are there.
template <LittleEndianScalar T>
T LoadLittleEndian(const uint8_t* in) {
  uint64_t bits = 0;
  for (size_t i = 0; i < sizeof(T); ++i) bits |= static_cast<uint64_t>(in[i]) << (8 * i);
  return std::bit_cast<T>(static_cast<internal::UnsignedOfSize<sizeof(T)>>(bits));
}

// Appends v's sizeof(T) bytes to out.
template <LittleEndianScalar T>
void AppendLittleEndian(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  StoreLittleEndian(v, out.data() + at);
}

// Appends every element of v (sizeof(T) bytes each, no count), growing out once.
template <LittleEndianScalar T>
void AppendLittleEndian(std::vector<uint8_t>& out, std::span<const T> v) {
  const size_t at = out.size();
  out.resize(at + v.size() * sizeof(T));
  uint8_t* p = out.data() + at;
  for (T x : v) {
    StoreLittleEndian(x, p);
    p += sizeof(T);
  }
}

// Reads a T at in[pos] and advances pos past it; empty (pos unchanged) when fewer than
// sizeof(T) bytes are left after pos.
template <LittleEndianScalar T>
std::optional<T> ReadLittleEndian(std::span<const uint8_t> in, size_t& pos) {
  if (pos > in.size() || in.size() - pos < sizeof(T)) return std::nullopt;
  const T v = LoadLittleEndian<T>(in.data() + pos);
  pos += sizeof(T);
  return v;
}

}  // namespace ll
