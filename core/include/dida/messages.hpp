#pragma once
// What an error or a name from a file looks like on a user's terminal: one line, no control
// sequences, in words rather than a library's internals.
#include <exception>
#include <string>
#include <string_view>

namespace dida {

// `text` with every control character (C0, DEL, C1), line break and byte that is not UTF-8
// written as \xNN: a class name or file name cannot move the cursor, recolour the terminal or
// forge a line of output. Printable UTF-8 passes unchanged.
std::string printable(std::string_view text);

// An exception's message for a user: std::bad_alloc and std::length_error say what ran out,
// a filesystem error names its path and reason, a JSON library error loses its
// "[json.exception...]" tag; then printable().
std::string describe_error(const std::exception& e);

}  // namespace dida
