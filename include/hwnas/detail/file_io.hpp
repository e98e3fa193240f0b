// Whole-file reads and atomic writes (temp file in the same folder, then
// rename), so a crash never leaves a half-written file behind.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>

#include <unistd.h>

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
/// whole new one, never a part.
inline void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  namespace fs = std::filesystem;
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  // The temp name is unique per process, so concurrent writers of different
  // files never collide; two writers of the same file race like rename does.
  fs::path tmp = dir / ("." + path.filename().string() + ".tmp" +
                        std::to_string(static_cast<unsigned long long>(
                            std::hash<std::string>{}(path.string()) ^
                            static_cast<unsigned long long>(::getpid()))));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw IoError("cannot create '" + tmp.string() + "' (temp file for '" + path.string() +
                    "'): " + std::strerror(errno));
    }
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      throw IoError("error while writing '" + tmp.string() + "' (temp file for '" +
                    path.string() + "')");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw IoError("cannot rename '" + tmp.string() + "' to '" + path.string() +
                  "': " + ec.message());
  }
}

}  // namespace hwnas::detail
