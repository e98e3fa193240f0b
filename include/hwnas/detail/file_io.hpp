// Whole-file reads and atomic writes (temp file in the same folder, then
// rename), so a crash never leaves a half-written file behind.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>

#include "hwnas/error.hpp"

namespace hwnas::detail {

/// The whole content of a file; IoError naming the file when it cannot be read.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw IoError("cannot open '" + path.string() + "' for reading: " + std::strerror(errno));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw IoError("error while reading '" + path.string() + "'");
  return std::move(buffer).str();
}

/// Writes `content` to `path` atomically: readers see the old file or the
/// whole new one, never a part. Each call writes its own temp file (created
/// exclusively, with a per-call unique name), so concurrent writers of the
/// same path never share one: the last rename wins, whole.
inline void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  namespace fs = std::filesystem;
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  static std::atomic<unsigned long long> counter{0};
  const unsigned long long salt = std::random_device{}();
  std::FILE* file = nullptr;
  fs::path tmp;
  for (int attempt = 0; attempt < 100 && !file; ++attempt) {
    // Appended piece by piece: GCC 12 warns (-Wrestrict, its bug 105329)
    // about "literal" + std::string in a consumer's -O2 -Werror build.
    std::string name(1, '.');
    name += path.filename().string();
    name += ".tmp-";
    name += std::to_string(salt);
    name += '-';
    name += std::to_string(counter.fetch_add(1));
    tmp = dir / name;
    file = std::fopen(tmp.string().c_str(), "wbx");  // C11 "x": fails if it exists
    if (!file && errno != EEXIST) break;
  }
  if (!file) {
    throw IoError("cannot create a temp file in '" + dir.string() + "' for '" + path.string() +
                  "': " + std::strerror(errno));
  }
  auto fail = [&](const std::string& what) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw IoError(what + " '" + tmp.string() + "' (temp file for '" + path.string() + "')");
  };
  const bool written = std::fwrite(content.data(), 1, content.size(), file) == content.size();
  const bool flushed = std::fflush(file) == 0;
  const bool closed = std::fclose(file) == 0;
  if (!written || !flushed) fail("error while writing");
  if (!closed) fail("error while closing");
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw IoError("cannot rename '" + tmp.string() + "' to '" + path.string() + "': " + ec.message());
  }
}

}  // namespace hwnas::detail
