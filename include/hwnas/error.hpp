// The exception hierarchy. Every message starts with where it came from and
// says what was expected and what was found.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace hwnas {

/// Root of every exception hwnas throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad options, an invalid architecture, a value outside its allowed set.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// Vectors or matrices whose sizes do not fit together.
class ShapeMismatch : public Error {
 public:
  using Error::Error;
};

/// A file that cannot be opened, read, written or renamed.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A file (or string) whose content does not follow its format. The message
/// is prefixed with "file:line:column: " (line and column are 1-based; 0
/// means unknown and is left out).
class FormatError : public Error {
 public:
  FormatError(std::string file, std::size_t line, std::size_t column,
              const std::string& what)
      : Error(location(file, line, column) + what),
        file_(std::move(file)),
        message_(what),
        line_(line),
        column_(column) {}

  const std::string& file() const noexcept { return file_; }
  /// The message without the location prefix.
  const std::string& message() const noexcept { return message_; }
  std::size_t line() const noexcept { return line_; }
  std::size_t column() const noexcept { return column_; }

 private:
  static std::string location(const std::string& file, std::size_t line,
                              std::size_t column) {
    std::string out = file.empty() ? std::string("<input>") : file;
    // append, not ":" + to_string(): GCC 12 warns (-Wrestrict) on the inlined temporary.
    if (line > 0) out.append(":").append(std::to_string(line));
    if (line > 0 && column > 0) out.append(":").append(std::to_string(column));
    return out.append(": ");
  }

  std::string file_;
  std::string message_;
  std::size_t line_;
  std::size_t column_;
};

/// A failure reported by an external backend (a runtime, a driver), with its
/// own error code.
class BackendError : public Error {
 public:
  BackendError(const std::string& what, int code)
      : Error(what + " (backend code " + std::to_string(code) + ")"), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

}  // namespace hwnas
