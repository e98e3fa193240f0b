// Atomic file writes: whole content or nothing, also with concurrent writers.
#include <doctest/doctest.h>

#include <filesystem>
#include <thread>

#include "hwnas/detail/file_io.hpp"

using namespace hwnas;

TEST_CASE("file io: atomic writes with concurrent writers of one path") {
  const auto dir = std::filesystem::temp_directory_path() / "hwnas_test_file_io";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = dir / "out.txt";
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      // Each writer's content is one repeated letter: a mixed file shows up.
      const std::string content(200000, static_cast<char>('a' + t));
      for (int i = 0; i < 10; ++i) detail::write_file_atomic(path, content);
    });
  }
  for (auto& th : threads) th.join();
  const std::string result = detail::read_file(path);
  REQUIRE(result.size() == 200000);
  CHECK(result.find_first_not_of(result[0]) == std::string::npos);
  // Only the target is left: no temp files.
  std::size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    CHECK(e.path().filename() == "out.txt");
    ++entries;
  }
  CHECK(entries == 1);
  std::filesystem::remove_all(dir);
  CHECK_THROWS_WITH_AS(detail::write_file_atomic(dir / "missing" / "x.txt", "x"),
                       doctest::Contains("cannot create a temp file in"), IoError);
  CHECK_THROWS_WITH_AS(detail::read_file(dir / "missing.txt"), doctest::Contains("cannot open"), IoError);
}
