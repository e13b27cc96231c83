// Printable: the bytes of a key, tensor name or string value read from a file, made safe to
// put in a message or on a terminal. A damaged or hostile file can hold any bytes, and a raw
// escape sequence (ESC, a C1 control) in an error message would drive the user's terminal.
// Pure function; any thread.
#pragma once

#include <string>
#include <string_view>

namespace ll::model {

// Printable ASCII and well-formed UTF-8 (other than C1 controls) are kept; a backslash becomes
// "\\" and every other byte "\xNN" (lower-case hex), so distinct inputs stay distinct.
std::string Printable(std::string_view bytes);

}  // namespace ll::model
