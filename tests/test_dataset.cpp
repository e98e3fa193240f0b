// Tests of hwnas/dataset.hpp: CSV reading and writing, errors, splits, and
// the real HELP OFA latency table from ../shared/data.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "hwnas/dataset.hpp"
#include "hwnas/space/fbnet_space.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "hwnas/split.hpp"
#include "test_support.hpp"

namespace {

using hwnas::Architecture;
using hwnas::Dataset;

// A small layout: 2 slots, 1 stage, 2 devices.
constexpr const char* kSmall =
    "id,ks0,ks1,e0,e1,d0,r,gpu,cpu\n"
    "7,3,5,4,6,2,224,1.5,20.25\n"
    "-2,7,0,3,0,1,160,0.125,1e-3\n";

// The OFA MobileNetV3 layout (20 slots, 5 stages) with the HELP device names.
const std::vector<std::string> kDevices = {"2080ti_1",   "2080ti_32",   "2080ti_64",
                                           "titan_xp_1", "titan_xp_32", "titan_xp_64",
                                           "v100_1",     "v100_32",     "v100_64"};

std::string ofa_header() {
  std::string h = "id";
  for (int j = 0; j < 20; ++j) h += ",ks" + std::to_string(j);
  for (int j = 0; j < 20; ++j) h += ",e" + std::to_string(j);
  for (int j = 0; j < 5; ++j) h += ",d" + std::to_string(j);
  h += ",r";
  for (const auto& d : kDevices) h += "," + d;
  return h + "\n";
}

// One OFA row; `ks3` and `v100_64` can be replaced by arbitrary text.
std::string ofa_row(const std::string& id, const std::string& ks3 = "5",
                    const std::string& v100_64 = "2.5") {
  std::string row = id;
  for (int j = 0; j < 20; ++j) row += "," + (j == 3 ? ks3 : std::string("7"));
  for (int j = 0; j < 20; ++j) row += ",4";
  for (int j = 0; j < 5; ++j) row += ",3";
  row += ",224";
  for (std::size_t c = 0; c + 1 < kDevices.size(); ++c) row += ",1." + std::to_string(c);
  return row + "," + v100_64 + "\n";
}

Architecture small_arch(int k) { return Architecture{{3, k}, {4, 6}, {2}, 192}; }

std::vector<std::size_t> iota(std::size_t n) {
  std::vector<std::size_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

// A unique empty folder under the system temp folder, removed on destruction.
using hwnas_test::TempDir;

void check_same(const Dataset& a, const Dataset& b) { hwnas_test::check_same_dataset(a, b); }

}  // namespace

TEST_CASE("dataset: parse a small hand-written CSV") {
  const Dataset d = Dataset::parse_csv(kSmall);
  REQUIRE(d.size() == 2);
  CHECK_FALSE(d.empty());
  CHECK(d.columns() == std::vector<std::string>{"gpu", "cpu"});
  CHECK(d.num_slots() == 2);
  CHECK(d.num_stages() == 1);
  CHECK(d.ids() == std::vector<std::int64_t>{7, -2});
  CHECK(d.archs()[0] == Architecture{{3, 5}, {4, 6}, {2}, 224});
  CHECK(d.archs()[1] == Architecture{{7, 0}, {3, 0}, {1}, 160});
  CHECK(d.latency(0, 0) == 1.5);
  CHECK(d.latency(0, 1) == 20.25);
  CHECK(d.latency(1, 0) == 0.125);
  CHECK(d.latency(1, 1) == 1e-3);
  CHECK(d.column_index("cpu") == 1);
  CHECK(d.column("gpu") == std::vector<double>{1.5, 0.125});
  CHECK(d.row_of_id(-2) == 1);
  CHECK_THROWS_AS(d.row_of_id(8), hwnas::InvalidArgument);
  CHECK_THROWS_AS(d.latency(2, 0), hwnas::InvalidArgument);
  CHECK_THROWS_AS(d.latency(0, 2), hwnas::InvalidArgument);
}

TEST_CASE("dataset: BOM, CRLF, whitespace and a trailing empty line are tolerated") {
  const Dataset expected = Dataset::parse_csv(kSmall);
  const std::string variants[] = {
      "\xEF\xBB\xBFid,ks0,ks1,e0,e1,d0,r,gpu,cpu\r\n"
      "7,3,5,4,6,2,224,1.5,20.25\r\n"
      "-2,7,0,3,0,1,160,0.125,1e-3\r\n",
      "id , ks0,ks1 ,e0,\te1,d0,r, gpu ,cpu\n"
      " 7 ,3, 5,4,6,2,224 , 1.5,20.25\t\n"
      "-2,7,0,3,0,1,160,0.125,1e-3\n"
      "\n",
      // No final newline at all.
      "id,ks0,ks1,e0,e1,d0,r,gpu,cpu\n"
      "7,3,5,4,6,2,224,1.5,20.25\n"
      "-2,7,0,3,0,1,160,0.125,1e-3",
  };
  for (const auto& text : variants) {
    CAPTURE(text);
    check_same(Dataset::parse_csv(text), expected);
  }
}

TEST_CASE("dataset: files of other tools: Excel's and Python's quoting, pandas' index, old Mac line ends") {
  const Dataset expected = Dataset::parse_csv(kSmall);
  const std::string variants[] = {
      // csv.QUOTE_ALL, or Excel: every field quoted, CRLF.
      "\"id\",\"ks0\",\"ks1\",\"e0\",\"e1\",\"d0\",\"r\",\"gpu\",\"cpu\"\r\n"
      "\"7\",\"3\",\"5\",\"4\",\"6\",\"2\",\"224\",\"1.5\",\"20.25\"\r\n"
      "\"-2\",\"7\",\"0\",\"3\",\"0\",\"1\",\"160\",\"0.125\",\"1e-3\"\r\n",
      // Some fields quoted, spaces around the quotes.
      "id,\"ks0\" ,ks1, \"e0\",e1,d0,r,gpu,cpu\n"
      "7,3,5,4,6,2,224,\"1.5\",20.25\n"
      "-2,7,0,3,0,1,160,0.125,\"1e-3\"\n",
      // pandas' default to_csv(): its index first, under an empty name.
      ",id,ks0,ks1,e0,e1,d0,r,gpu,cpu\n"
      "0,7,3,5,4,6,2,224,1.5,20.25\n"
      "1,-2,7,0,3,0,1,160,0.125,1e-3\n",
      // Lines ended by a carriage return alone (old Mac Excel).
      "id,ks0,ks1,e0,e1,d0,r,gpu,cpu\r7,3,5,4,6,2,224,1.5,20.25\r-2,7,0,3,0,1,160,0.125,1e-3\r",
  };
  for (const auto& text : variants) {
    CAPTURE(text);
    check_same(Dataset::parse_csv(text), expected);
  }
  // What hwnas writes it reads back, whichever tool wrote the input.
  check_same(Dataset::parse_csv(Dataset::parse_csv(variants[2]).to_csv()), expected);
  // A field count error in a pandas file counts the index too.
  CHECK_THROWS_WITH_AS(Dataset::parse_csv(",id,ks0,e0,d0,r,gpu\n0,1,3,4,1,128\n"),
                       doctest::Contains("<input>:2: expected 7 fields (as in the header), found 6"),
                       hwnas::FormatError);
  Dataset d({"gpu"});
  CHECK_THROWS_WITH_AS(d.add_row(1, {{3}, {4}, {1}, 128}, std::vector<double>{2e6}),
                       doctest::Contains("ms is beyond any device: at most 1e6 ms"),
                       hwnas::InvalidArgument);
  CHECK(d.empty());
}

TEST_CASE("dataset: a header-only file and zero device columns") {
  const Dataset empty = Dataset::parse_csv("id,ks0,e0,d0,r,gpu\n");
  CHECK(empty.empty());
  CHECK(empty.num_slots() == 1);
  CHECK(empty.to_csv() == "id,ks0,e0,d0,r,gpu\n");

  const Dataset no_devices = Dataset::parse_csv("id,ks0,e0,d0,r\n3,5,6,1,128\n");
  CHECK(no_devices.size() == 1);
  CHECK(no_devices.columns().empty());
  CHECK(Dataset::parse_csv(no_devices.to_csv()).archs() == no_devices.archs());

  // Before the first row the shape is unknown, so there is no header to write.
  Dataset fresh(std::vector<std::string>{"gpu"});
  CHECK_THROWS_WITH_AS(fresh.to_csv(), doctest::Contains("architecture shape"),
                       hwnas::InvalidArgument);
}

// Regression (found while fuzzing the reader): the row reservation came from
// the line count alone, so 3000 device columns over 3.5 * 10^7 trailing blank
// lines (a 35 MB file) reserved 10^11 latencies, 840 GB, and threw
// std::bad_alloc under Linux's default overcommit policy on any machine with
// less memory. The size now bounds the rows too.
TEST_CASE("dataset: a wide header over many blank lines parses without a huge reservation") {
  std::string text = "id,ks0,e0,d0,r";
  for (int c = 0; c < 3'000; ++c) text += ",dev" + std::to_string(c);
  text += '\n';
  text.append(35'000'000, '\n');
  Dataset d;
  CHECK_NOTHROW(d = Dataset::parse_csv(text));
  CHECK(d.empty());
  CHECK(d.columns().size() == 3'000);
}

TEST_CASE("dataset: parse -> to_csv -> parse is bit-exact") {
  Dataset d(std::vector<std::string>{"a", "b", "c"});
  hwnas::Rng rng(42);
  const double specials[] = {0.0,
                             0.1,
                             1.0 / 3.0,
                             5e-324,  // smallest subnormal
                             std::numeric_limits<double>::min(),
                             Dataset::max_latency_ms,
                             std::nextafter(1.0, 2.0),
                             123456.789123456789};
  for (int i = 0; i < 200; ++i) {
    const double scale = std::ldexp(1.0, static_cast<int>(rng.uniform_index(60)) - 40);  // up to 2^19 ms
    std::vector<double> lat = {rng.uniform01() * scale, rng.uniform01(),
                               specials[static_cast<std::size_t>(i) % std::size(specials)]};
    d.add_row(1000 - 7 * i, small_arch(static_cast<int>(rng.uniform_index(8))), lat);
  }
  const std::string text = d.to_csv();
  const Dataset back = Dataset::parse_csv(text);
  check_same(back, d);
  CHECK(back.to_csv() == text);
}

TEST_CASE("dataset: write_csv then read_csv leaves no temp files") {
  TempDir dir;
  const auto file = dir / "latency.csv";
  const Dataset d = Dataset::parse_csv(kSmall);
  d.write_csv(file);
  const Dataset back = Dataset::read_csv(file);
  check_same(back, d);

  // Overwriting goes through a temp file too; only the target remains.
  back.subset(std::vector<std::size_t>{1}).write_csv(file);
  CHECK(Dataset::read_csv(file).size() == 1);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    names.push_back(entry.path().filename().string());
  }
  CHECK(names == std::vector<std::string>{"latency.csv"});

  CHECK_THROWS_AS(Dataset::read_csv(dir / "missing.csv"), hwnas::IoError);
  CHECK_THROWS_AS(d.write_csv(dir / "no_such_folder" / "x.csv"), hwnas::IoError);
}

TEST_CASE("dataset: read_csv names the file in errors") {
  TempDir dir;
  const auto file = dir / "empty.csv";
  hwnas::detail::write_file_atomic(file, "");
  CHECK_THROWS_WITH_AS(Dataset::read_csv(file),
                       doctest::Contains((file.string() + ": file is empty").c_str()),
                       hwnas::FormatError);
}

TEST_CASE("dataset: parse errors") {
  using hwnas::FormatError;

  SUBCASE("empty file") {
    CHECK_THROWS_WITH_AS(Dataset::parse_csv(""), doctest::Contains("<input>: file is empty"),
                         FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("\xEF\xBB\xBF\r\n\n  \n", "x.csv"),
                         doctest::Contains("x.csv: file is empty"), FormatError);
  }

  SUBCASE("missing or misordered header columns") {
    CHECK_THROWS_WITH_AS(
        Dataset::parse_csv("ks0,e0,d0,r\n"),
        doctest::Contains("<input>:1:1: header: expected column 'id', found 'ks0'"), FormatError);
    CHECK_THROWS_WITH_AS(
        Dataset::parse_csv("id,e0,d0,r\n"),
        doctest::Contains("<input>:1:4: header: expected column 'ks0', found 'e0'"), FormatError);
    CHECK_THROWS_WITH_AS(
        Dataset::parse_csv("id,ks0,ks1,e0,d0,r\n"),
        doctest::Contains("<input>:1:15: header: expected column 'e1' (one e column per ks "
                          "column: 2), found 'd0'"),
        FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,ks2,e0,e1,d0,r\n"),
                         doctest::Contains("header: expected column 'ks1' or 'e0', found 'ks2'"),
                         FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,r,gpu\n"),
                         doctest::Contains("header: expected column 'd0'"), FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,d1,gpu\n"),
                         doctest::Contains("<input>:1:17: header: expected column 'd2' or 'r', "
                                           "found 'gpu'"),
                         FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0\n"),
                         doctest::Contains("header: expected column 'd1' or 'r', found the end "
                                           "of the header"),
                         FormatError);
  }

  SUBCASE("bad device column names") {
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r,gpu,cpu,gpu\n"),
                         doctest::Contains("<input>:1:24: header: duplicate device column 'gpu' "
                                           "(first at column 16)"),
                         FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r,gpu,\n"),
                         doctest::Contains("header: device column name '' is empty"), FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r,\"g\"\"pu\"\n"),
                         doctest::Contains("<input>:1:16: header: device column name 'g\"pu' contains a quote"),
                         FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r,\"g,pu\"\n"),
                         doctest::Contains("device column name 'g,pu' contains a comma"), FormatError);
    // A stray carriage return inside the header (mixed line ends).
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r,gpu\rcpu,npu\n"),
                         doctest::Contains("<input>:1:16: header: device column name 'gpu\rcpu' contains a "
                                           "carriage return"),
                         FormatError);
  }

  SUBCASE("quoted fields") {
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r,gpu\n1,3,\"4,1,128,2.0\n"),
                         doctest::Contains("<input>:2:5: a quoted field opens here and the line ends before its "
                                           "closing quote"),
                         FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r,gpu\n1,3,\"4\"x,1,128,2.0\n"),
                         doctest::Contains("<input>:2:8: text after the closing quote of a field"), FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r,gpu\n1,3,\"4 \",1,128,2.0\n"),
                         doctest::Contains("<input>:2:5: field 'e0': expected an integer, found '4 '"), FormatError);
  }

  SUBCASE("pandas' index without an id column after it") {
    CHECK_THROWS_WITH_AS(Dataset::parse_csv(",ks0,e0,d0,r,gpu\n0,3,4,1,128,2.0\n"),
                         doctest::Contains("<input>:1:1: header: the first column has no name, as pandas' "
                                           "to_csv() writes its index, and 'id' does not follow it"),
                         FormatError);
  }

  SUBCASE("latencies no device can produce") {
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r,gpu\n1,3,4,1,128,1e300\n"),
                         doctest::Contains("<input>:2:13: field 'gpu': latency 1e300 ms is beyond any device: at "
                                           "most 1e6 ms"),
                         FormatError);
    CHECK(Dataset::parse_csv("id,ks0,e0,d0,r,gpu\n1,3,4,1,128,1e6\n").column("gpu") == std::vector<double>{1e6});
  }

  SUBCASE("wrong field count") {
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r,gpu\n1,3,4,1,128,2.0\n2,3,4,1,128\n"),
                         doctest::Contains("<input>:3: expected 6 fields (as in the header), "
                                           "found 5"),
                         FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r,gpu\n1,3,4,1,128,2.0,\n"),
                         doctest::Contains("<input>:2: expected 6 fields (as in the header), "
                                           "found 7"),
                         FormatError);
  }

  SUBCASE("non-integer in an integer column") {
    // Line 7 is the sixth data row; id "1234" puts ks3 at character 12.
    std::string text = ofa_header();
    for (int i = 0; i < 5; ++i) text += ofa_row(std::to_string(i));
    text += ofa_row("1234", "abc");
    CHECK_THROWS_WITH_AS(
        Dataset::parse_csv(text),
        doctest::Contains("<input>:7:12: field 'ks3': expected an integer, found 'abc'"),
        FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv(ofa_header() + ofa_row("1", "7.0")),
                         doctest::Contains(":2:9: field 'ks3': expected an integer, found '7.0'"),
                         FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv(ofa_header() + ofa_row("1", "")),
                         doctest::Contains("field 'ks3': expected an integer, found ''"),
                         FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv(ofa_header() + ofa_row("x1")),
                         doctest::Contains(":2:1: field 'id': expected an integer, found 'x1'"),
                         FormatError);
    CHECK_THROWS_WITH_AS(
        Dataset::parse_csv(ofa_header() + ofa_row("99999999999999999999")),
        doctest::Contains("field 'id': integer out of range, found '99999999999999999999'"),
        FormatError);
  }

  SUBCASE("negative architecture values") {
    CHECK_THROWS_WITH_AS(Dataset::parse_csv(ofa_header() + ofa_row("1", "-3")),
                         doctest::Contains(":2:9: field 'ks3': must be non-negative, found -3"),
                         FormatError);
  }

  SUBCASE("NaN, infinite, negative and non-numeric latencies") {
    const std::string header = ofa_header();
    // v100_64 is the last field: find its column from the row text.
    const std::string row = ofa_row("1", "5", "nan");
    const std::string column = std::to_string(row.rfind(',') + 2);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv(header + row),
                         doctest::Contains(("<input>:2:" + column +
                                            ": field 'v100_64': latency must be finite and "
                                            "non-negative, found nan")
                                               .c_str()),
                         FormatError);
    for (const std::string bad : {"inf", "-inf", "-1.5", "1e999"}) {
      CAPTURE(bad);
      CHECK_THROWS_WITH_AS(Dataset::parse_csv(header + ofa_row("1", "5", bad)),
                           doctest::Contains("field 'v100_64': latency "), FormatError);
    }
    CHECK_THROWS_WITH_AS(Dataset::parse_csv(header + ofa_row("1", "5", "-1.5")),
                         doctest::Contains("latency must be finite and non-negative, found -1.5"),
                         FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv(header + ofa_row("1", "5", "fast")),
                         doctest::Contains("field 'v100_64': expected a number, found 'fast'"),
                         FormatError);
    CHECK_THROWS_WITH_AS(Dataset::parse_csv(header + ofa_row("1", "5", "2.5ms")),
                         doctest::Contains("expected a number, found '2.5ms'"), FormatError);
  }

  SUBCASE("duplicate ids") {
    std::string text = ofa_header();
    for (int id : {10, 11, 12, 42, 13, 14, 42}) text += ofa_row(std::to_string(id));
    CHECK_THROWS_WITH_AS(Dataset::parse_csv(text, "lat.csv"),
                         doctest::Contains("lat.csv:8:1: field 'id': duplicate id 42 (first seen "
                                           "on line 5)"),
                         FormatError);
  }

  SUBCASE("an empty line inside the data") {
    CHECK_THROWS_WITH_AS(Dataset::parse_csv("id,ks0,e0,d0,r\n1,3,4,1,128\n\n2,3,4,1,128\n"),
                         doctest::Contains("<input>:3: empty line inside the data"), FormatError);
  }
}

TEST_CASE("dataset: device column names and lookups") {
  CHECK_THROWS_WITH_AS(Dataset(std::vector<std::string>{"a", "b", "a"}),
                       doctest::Contains("dataset: duplicate device column 'a'"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(Dataset(std::vector<std::string>{"a", ""}), doctest::Contains("is empty"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_AS(Dataset(std::vector<std::string>{"a,b"}), hwnas::InvalidArgument);
  CHECK_THROWS_AS(Dataset(std::vector<std::string>{"a\nb"}), hwnas::InvalidArgument);
  CHECK_THROWS_AS(Dataset(std::vector<std::string>{" a"}), hwnas::InvalidArgument);

  const Dataset d = Dataset::parse_csv(kSmall);
  CHECK_THROWS_WITH_AS(d.column_index("foo"),
                       doctest::Contains("dataset: unknown device column 'foo'; available: gpu, "
                                         "cpu"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(d.column("foo"), doctest::Contains("unknown device column 'foo'"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(Dataset().column_index("x"), doctest::Contains("available: (none)"),
                       hwnas::InvalidArgument);
}

TEST_CASE("dataset: add_row validation") {
  Dataset d(std::vector<std::string>{"gpu", "v100_64"});
  const std::vector<double> ok = {1.0, 2.0};
  d.add_row(5, small_arch(3), ok);
  CHECK(d.num_slots() == 2);
  CHECK(d.num_stages() == 1);

  CHECK_THROWS_WITH_AS(d.add_row(6, small_arch(3), std::vector<double>{1.0}),
                       doctest::Contains("add_row got 1 latencies for 2 device columns"),
                       hwnas::ShapeMismatch);
  CHECK_THROWS_WITH_AS(
      d.add_row(6, small_arch(3), std::vector<double>{1.0, std::nan("")}),
      doctest::Contains("field 'v100_64': latency must be finite and non-negative, found nan"),
      hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(d.add_row(6, small_arch(3), std::vector<double>{-0.5, 1.0}),
                       doctest::Contains("field 'gpu': latency must be finite and non-negative, "
                                         "found -0.5"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(d.add_row(6, small_arch(3),
                                 std::vector<double>{1.0, std::numeric_limits<double>::infinity()}),
                       doctest::Contains("found inf"), hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(d.add_row(5, small_arch(3), ok),
                       doctest::Contains("dataset: duplicate id 5 (already in row 0)"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(d.add_row(6, Architecture{{3, 3, 3}, {4, 4, 4}, {2}, 192}, ok),
                       doctest::Contains("3 ks/e slots and 1 stages, but the dataset has 2 and 1"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(d.add_row(6, Architecture{{3, 3}, {4}, {2}, 192}, ok),
                       doctest::Contains("2 ks entries but 1 e entries"), hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(d.add_row(6, Architecture{{3, -3}, {4, 4}, {2}, 192}, ok),
                       doctest::Contains("ks1 must be non-negative, found -3"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(d.add_row(6, Architecture{{3, 3}, {4, 4}, {2}, -1}, ok),
                       doctest::Contains("r must be non-negative, found -1"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_AS(Dataset(std::vector<std::string>{"gpu"})
                      .add_row(1, Architecture{{}, {}, {}, 224}, std::vector<double>{1.0}),
                  hwnas::InvalidArgument);
  // Failed calls left nothing behind.
  CHECK(d.size() == 1);
  d.add_row(6, small_arch(5), ok);
  CHECK(d.size() == 2);
  CHECK(d.row_of_id(6) == 1);
}

TEST_CASE("dataset: subset and select_columns") {
  const Dataset d = Dataset::parse_csv(
      "id,ks0,e0,d0,r,a,b,c\n"
      "10,3,4,1,128,1,2,3\n"
      "11,5,6,2,132,4,5,6\n"
      "12,7,3,3,136,7,8,9\n");
  const Dataset s = d.subset(std::vector<std::size_t>{2, 0});
  CHECK(s.ids() == std::vector<std::int64_t>{12, 10});
  CHECK(s.archs()[0] == d.archs()[2]);
  CHECK(s.column("b") == std::vector<double>{8, 2});
  CHECK(s.row_of_id(10) == 1);
  CHECK(d.subset(std::vector<std::size_t>{}).empty());
  CHECK_THROWS_WITH_AS(d.subset(std::vector<std::size_t>{0, 3}),
                       doctest::Contains("subset row 3 out of range (3 rows)"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(d.subset(std::vector<std::size_t>{1, 1}),
                       doctest::Contains("subset row 1 given twice"), hwnas::InvalidArgument);

  const Dataset c = d.select_columns(std::vector<std::string>{"c", "a"});
  CHECK(c.columns() == std::vector<std::string>{"c", "a"});
  CHECK(c.ids() == d.ids());
  CHECK(c.latency(1, 0) == 6);
  CHECK(c.latency(1, 1) == 4);
  CHECK(Dataset::parse_csv(c.to_csv()).column("a") == d.column("a"));
  CHECK_THROWS_WITH_AS(d.select_columns(std::vector<std::string>{"a", "z"}),
                       doctest::Contains("unknown device column 'z'"), hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(d.select_columns(std::vector<std::string>{"a", "a"}),
                       doctest::Contains("duplicate device column 'a'"), hwnas::InvalidArgument);
}

TEST_CASE("dataset: random_split") {
  const hwnas::Split s = hwnas::random_split(5000, 1);
  CHECK(s.train.size() == 3500);
  CHECK(s.validation.size() == 750);
  CHECK(s.test.size() == 750);

  // Disjoint and covering.
  std::vector<std::size_t> all;
  for (const auto* part : {&s.train, &s.validation, &s.test}) {
    all.insert(all.end(), part->begin(), part->end());
  }
  std::sort(all.begin(), all.end());
  CHECK(all == iota(5000));

  // Deterministic per seed, different across seeds.
  const hwnas::Split again = hwnas::random_split(5000, 1);
  CHECK(again.train == s.train);
  CHECK(again.validation == s.validation);
  CHECK(again.test == s.test);
  CHECK(hwnas::random_split(5000, 2).train != s.train);

  // It is exactly "shuffle with Rng(seed), then cut".
  std::vector<std::size_t> order = iota(10);
  hwnas::Rng rng(7);
  rng.shuffle(std::span<std::size_t>(order));
  const hwnas::Split small = hwnas::random_split(10, 7, 0.5, 0.2);
  CHECK(small.train == std::vector<std::size_t>(order.begin(), order.begin() + 5));
  CHECK(small.validation == std::vector<std::size_t>(order.begin() + 5, order.begin() + 7));
  CHECK(small.test == std::vector<std::size_t>(order.begin() + 7, order.end()));

  const hwnas::Split all_train = hwnas::random_split(10, 3, 1.0, 0.0);
  CHECK(all_train.train.size() == 10);
  CHECK(all_train.test.empty());
  CHECK(hwnas::random_split(0, 3).train.empty());
  CHECK(hwnas::random_split(3, 3, 0.7, 0.3 + 1e-12).test.empty());

  CHECK_THROWS_WITH_AS(hwnas::random_split(10, 1, 1.5, 0.0),
                       doctest::Contains("train fraction must be in [0, 1], got 1.5"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(hwnas::random_split(10, 1, 0.5, -0.1),
                       doctest::Contains("validation fraction must be in [0, 1]"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_AS(hwnas::random_split(10, 1, std::nan(""), 0.1), hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(hwnas::random_split(10, 1, 0.7, 0.4),
                       doctest::Contains("train + validation must be at most 1"),
                       hwnas::InvalidArgument);
}

TEST_CASE("dataset: benchmark_split by id") {
  std::string text = "id,ks0,e0,d0,r,gpu\n";
  for (int id = 0; id < 40; ++id) text += std::to_string(id) + ",3,4,1,128,1.0\n";
  for (int id : {-1, -20, -17}) text += std::to_string(id) + ",3,4,1,128,1.0\n";
  const Dataset d = Dataset::parse_csv(text);
  const hwnas::Split s = hwnas::benchmark_split(d);
  // Rows 0..39 hold ids 0..39; rows 40, 41, 42 hold ids -1 (19), -20 (0), -17 (3).
  CHECK(s.test == std::vector<std::size_t>{0, 1, 2, 20, 21, 22, 41});
  CHECK(s.validation == std::vector<std::size_t>{3, 4, 5, 23, 24, 25, 42});
  CHECK(s.train == std::vector<std::size_t>{6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                            16, 17, 18, 19, 26, 27, 28, 29, 30, 31,
                                            32, 33, 34, 35, 36, 37, 38, 39, 40});
  // It follows ids, not rows.
  const Dataset reversed = d.subset(std::vector<std::size_t>{22, 6, 4});
  const hwnas::Split r = hwnas::benchmark_split(reversed);
  CHECK(r.test == std::vector<std::size_t>{0});
  CHECK(r.train == std::vector<std::size_t>{1});
  CHECK(r.validation == std::vector<std::size_t>{2});
}

TEST_CASE("dataset: random_subset") {
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < 100; ++i) rows.push_back(3 * i + 1);
  const auto a = hwnas::random_subset(rows, 20, 9);
  CHECK(a.size() == 20);
  CHECK(std::set<std::size_t>(a.begin(), a.end()).size() == 20);
  for (std::size_t v : a) CHECK(std::find(rows.begin(), rows.end(), v) != rows.end());
  CHECK(hwnas::random_subset(rows, 20, 9) == a);
  CHECK(hwnas::random_subset(rows, 20, 10) != a);
  // Nested: the 10-subset of a seed is the start of its 20-subset.
  const auto b = hwnas::random_subset(rows, 10, 9);
  CHECK(std::equal(b.begin(), b.end(), a.begin()));
  // All of them is a permutation.
  auto everything = hwnas::random_subset(rows, 100, 9);
  std::sort(everything.begin(), everything.end());
  CHECK(everything == rows);
  CHECK(hwnas::random_subset(rows, 0, 9).empty());
  CHECK(hwnas::random_subset(std::vector<std::size_t>{}, 0, 9).empty());

  CHECK_THROWS_WITH_AS(hwnas::random_subset(rows, 101, 9),
                       doctest::Contains("cannot choose 101 distinct rows from 100"),
                       hwnas::InvalidArgument);
  CHECK_THROWS_WITH_AS(hwnas::random_subset(std::vector<std::size_t>{1, 2, 1}, 2, 9),
                       doctest::Contains("row 1 appears twice"), hwnas::InvalidArgument);
}

TEST_CASE("dataset: the real HELP OFA GPU latency table") {
  HWNAS_REQUIRE_DATA(path, "help-ofa/ofa_gpu_latency.csv");

  const Dataset d = Dataset::read_csv(path);

  REQUIRE(d.size() == 5000);
  // Names as in ../shared/data/provenance.json.
  CHECK(d.columns() == kDevices);
  CHECK(d.num_slots() == 20);
  CHECK(d.num_stages() == 5);

  // First data line of the file (head -2 ofa_gpu_latency.csv).
  REQUIRE(d.ids()[0] == 0);
  const Architecture& a = d.archs()[0];
  CHECK(a.ks == std::vector<int>{7, 5, 5, 5, 7, 7, 5, 7, 5, 7, 3, 7, 5, 3, 7, 3, 5, 3, 5, 3});
  CHECK(a.e == std::vector<int>{6, 4, 4, 6, 6, 3, 4, 3, 3, 6, 3, 3, 3, 6, 3, 4, 6, 4, 3, 6});
  CHECK(a.d == std::vector<int>{2, 2, 2, 2, 3});
  CHECK(a.r == 204);
  CHECK(d.latency(0, d.column_index("2080ti_1")) == 12.081937789916992);
  CHECK(d.latency(0, d.column_index("titan_xp_64")) == 55.50851345062256);
  CHECK(d.latency(0, d.column_index("v100_64")) == 21.807122230529785);
  // Last line (tail -1): id 4999, r 140, v100_1 11.22169017791748.
  CHECK(d.ids()[4999] == 4999);
  CHECK(d.archs()[4999].r == 140);
  CHECK(d.latency(4999, d.column_index("v100_1")) == 11.22169017791748);

  // Counted with (prints train, validation, test: 3500 750 750)
  //   awk -F, 'NR>1{m=$1%20; if(m<3)t++; else if(m<6)v++; else tr++} END{print tr, v, t}'
  //       ../shared/data/help-ofa/ofa_gpu_latency.csv
  const hwnas::Split s = hwnas::benchmark_split(d);
  CHECK(s.train.size() == 3500);
  CHECK(s.validation.size() == 750);
  CHECK(s.test.size() == 750);

  const std::vector<double> v100 = d.column("v100_64");
  CHECK(v100.size() == 5000);
  CHECK(std::all_of(v100.begin(), v100.end(), [](double x) { return x > 0.0; }));

  // The file was written with shortest round-trip doubles, so to_csv
  // reproduces it byte for byte apart from the CRLF line endings.
  std::string original = hwnas::detail::read_file(path);
  original.erase(std::remove(original.begin(), original.end(), '\r'), original.end());
  CHECK(d.to_csv() == original);
  check_same(Dataset::parse_csv(d.to_csv()), d);
}

// ------------------------------------------------- categorical datasets ----

TEST_CASE("dataset: a categorical space's columns, by value or label") {
  const hwnas::CategoricalSpace space({{"op0", {0, 1, 2}, {"conv3", "conv5", "skip"}},
                                       {"op1", {0, 1, 2}, {"conv3", "conv5", "skip"}},
                                       {"width", {0.5, 1}}},
                                      "tiny");
  using CatDataset = hwnas::BasicDataset<hwnas::CategoricalArch>;
  const CatDataset d = CatDataset::parse_csv("id,op0,op1,width,cpu\n"
                                             "3,2,conv5,0.5,1.25\n"
                                             "9,conv3,0,1,2\n",
                                             "tiny.csv", space.columns());
  REQUIRE(d.size() == 2);
  CHECK(d.archs()[0] == hwnas::CategoricalArch{2, 1, 0});
  CHECK(d.archs()[1] == hwnas::CategoricalArch{0, 0, 1});
  CHECK(d.column("cpu") == std::vector<double>{1.25, 2});
  // Written back by value; read back equal.
  CHECK(d.to_csv() == "id,op0,op1,width,cpu\n3,2,1,0.5,1.25\n9,0,0,1,2\n");
  CHECK(CatDataset::parse_csv(d.to_csv(), "again", space.columns()).archs() == d.archs());
  // Splits, subsets and column selection work on any architecture type.
  const auto split = hwnas::benchmark_split(d);  // by id: 3 validates, 9 trains
  CHECK(split.validation == std::vector<std::size_t>{0});
  CHECK(split.train == std::vector<std::size_t>{1});
  CHECK(d.subset(std::vector<std::size_t>{1}).archs()[0] == d.archs()[1]);

  CHECK_THROWS_WITH_AS(CatDataset::parse_csv("id,op0,op2,width,cpu\n", "f.csv", space.columns()),
                       doctest::Contains("f.csv:1:8: header: expected column 'op1' (the decisions of space 'tiny', "
                                         "in order), found 'op2'"),
                       hwnas::FormatError);
  CHECK_THROWS_WITH_AS(CatDataset::parse_csv("id,op0,op1,width,cpu\n1,2,conv7,1,3\n", "f.csv", space.columns()),
                       doctest::Contains("f.csv:2:5: field 'op1': 'conv7' is not one of its choices {conv3, conv5, skip}"),
                       hwnas::FormatError);
  CHECK_THROWS_WITH_AS(CatDataset::parse_csv("id,op0,op1,width,cpu\n1,2,1,0.75,3\n", "f.csv", space.columns()),
                       doctest::Contains("field 'width': '0.75' is not one of its choices {0.5, 1}"),
                       hwnas::FormatError);
  CHECK_THROWS_WITH_AS(CatDataset::parse_csv("id,op0,op1,width,cpu\n", "f.csv"),
                       doctest::Contains("the columns of a categorical space are unknown"), hwnas::FormatError);
  CHECK_THROWS_WITH_AS(CatDataset::parse_csv("", "f.csv", space.columns()),
                       doctest::Contains("file is empty (expected a header line 'id,op0,...,<devices>')"),
                       hwnas::FormatError);
  CatDataset built({"cpu"}, space.columns());
  built.add_row(1, {0, 1, 1}, std::vector<double>{4.0});
  CHECK_THROWS_WITH_AS(built.add_row(2, {0, 3, 1}, std::vector<double>{4.0}),
                       doctest::Contains("decision 'op1' (index 1): choice index 3 outside [0, 3)"),
                       hwnas::InvalidArgument);
  CHECK(built.size() == 1);
}

TEST_CASE("dataset: an OFA space's columns check the header's counts") {
  const auto space = hwnas::MbConvSpace::ofa_mobilenet_v3();
  CHECK_THROWS_WITH_AS(Dataset::parse_csv(kSmall, "small.csv", space.columns()),
                       doctest::Contains("header: the columns hold 2 ks/e slots and 1 stages; the space has 20 and 5"),
                       hwnas::FormatError);
}

TEST_CASE("dataset: the real HELP FBNet latency table") {
  HWNAS_REQUIRE_DATA(path, "help-fbnet/fbnet_latency.csv");
  const auto space = hwnas::fbnet_space();
  const auto d = hwnas::BasicDataset<hwnas::CategoricalArch>::read_csv(path, space.columns());
  REQUIRE(d.size() == 5000);
  CHECK(d.columns() == std::vector<std::string>{"1080ti_1", "1080ti_32", "1080ti_64", "silver_4114", "silver_4210r",
                                                 "samsung_a50", "pixel3", "essential_ph_1", "samsung_s7", "titanx_1",
                                                 "titanx_32", "titanx_64", "gold_6240"});
  // First data line of the file (head -2 fbnet_latency.csv).
  CHECK(d.ids()[0] == 0);
  CHECK(d.archs()[0] == hwnas::CategoricalArch{7, 8, 1, 8, 4, 8, 8, 8, 7, 4, 1, 4, 7, 3, 2, 7, 3, 2, 4, 2, 4, 5});
  CHECK(d.latency(0, d.column_index("1080ti_1")) == 10.615349732488394);
  CHECK(d.latency(0, d.column_index("samsung_s7")) == 100.0);
  CHECK(d.latency(0, d.column_index("gold_6240")) == 30.934024964608252);
  CHECK(d.ids()[4999] == 4999);
}
