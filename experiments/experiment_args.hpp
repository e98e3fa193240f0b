// What the study programs of experiments/ share: one command-line parser
// (options bound to variables that hold the defaults, an optional input path,
// --out FILE, --help generated from the options), where the real data is,
// the skip that CTest reports when it is absent, the JSON each study prints,
// and its progress lines. tools/results/run.sh and CTest are the callers.
#pragma once

#include <hwnas/detail/file_io.hpp>
#include <hwnas/error.hpp>
#include <hwnas/io/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#ifndef HWNAS_SOURCE_DIR
#error "experiments/CMakeLists.txt defines HWNAS_SOURCE_DIR (the checkout, whose ../shared/data is the default data)"
#endif

namespace hwnas_experiment {

/// The exit code of a study whose data is absent: automake's "skipped",
/// which experiments/CMakeLists.txt hands CTest as SKIP_RETURN_CODE. Not 0,
/// so a script that runs a study cannot mistake the skip for its output.
inline constexpr int kSkipped = 77;

/// $HWNAS_DATA_DIR, else the checkout's ../shared/data, as the tests and
/// benchmarks find it.
inline std::filesystem::path data_dir() {
  if (const char* env = std::getenv("HWNAS_DATA_DIR"); env != nullptr && *env != '\0') return env;
  return std::filesystem::path(HWNAS_SOURCE_DIR) / ".." / "shared" / "data";
}

/// Whether every path exists. If one does not, prints "skipped: <path> not
/// found (<hint>)" on stdout, the line CTest and a reader look for; the
/// caller then returns kSkipped.
inline bool data_present(std::initializer_list<std::filesystem::path> paths, std::string_view hint) {
  for (const auto& p : paths) {
    if (!std::filesystem::exists(p)) {
      std::cout << "skipped: " << p.string() << " not found (" << hint << ")\n";
      return false;
    }
  }
  return true;
}

/// Wall time since construction, and progress lines "[12 s] what" on stderr
/// (stdout is the JSON).
class Stopwatch {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  void progress(std::string_view what) const {
    std::cerr << "[" << static_cast<long>(seconds()) << " s] " << what << '\n';
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// The command line of one study. Bind each option to the variable that
/// holds its default, then parse():
///
///   hwnas_experiment::Args args("finetune_curve", "one line on what it does");
///   args.numbers("--seeds", opt.seeds, "seeds, comma-separated");
///   if (!args.parse(argc, argv)) return 0;  // --help was printed
///
/// Every study also takes --out FILE (the JSON goes there, written
/// atomically, instead of to stdout) and -h/--help.
class Args {
 public:
  Args(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}

  const std::string& program() const { return program_; }

  /// Whether `name` is on the command line, before parse(): a study picks
  /// its quick or full defaults from --full first, and explicit options
  /// then override them.
  static bool given(int argc, char** argv, std::string_view name) {
    return std::any_of(argv + 1, argv + argc, [&](const char* a) { return name == a; });
  }

  Args& flag(std::string name, bool& out, std::string help) {
    return add(std::move(name), "", std::move(help), [&out](const std::string&) { out = true; });
  }
  Args& text(std::string name, std::string& out, std::string help) {
    return add(std::move(name), "NAME", std::move(help), [&out](const std::string& v) { out = v; });
  }
  Args& path(std::string name, std::filesystem::path& out, std::string help, std::string placeholder = "FILE") {
    return add(std::move(name), std::move(placeholder), std::move(help), [&out](const std::string& v) { out = v; });
  }
  Args& texts(std::string name, std::vector<std::string>& out, std::string help) {
    return add(std::move(name), "a,b,..", std::move(help), [&out](const std::string& v) { out = split_list(v); });
  }
  template <class T>
  Args& number(std::string name, T& out, std::string help) {
    const std::string n = name;
    return add(std::move(name), "N", std::move(help), [&out, n](const std::string& v) { out = parse_number<T>(n, v); });
  }
  /// A comma-separated list of numbers; an empty list is an error.
  template <class T>
  Args& numbers(std::string name, std::vector<T>& out, std::string help) {
    const std::string n = name;
    return add(std::move(name), "n,m,..", std::move(help), [&out, n](const std::string& v) {
      out.clear();
      for (const auto& item : split_list(v)) out.push_back(parse_number<T>(n, item));
      if (out.empty()) throw hwnas::InvalidArgument(n + ": expected a comma-separated list, found '" + v + "'");
    });
  }
  /// The one argument without a leading '-' (a data file or folder).
  Args& positional(std::string name, std::filesystem::path& out, std::string help) {
    positional_ = {std::move(name), std::move(help)};
    positional_out_ = &out;
    return *this;
  }

  /// Fills the bound variables. Returns false after printing the usage for
  /// -h/--help; throws hwnas::InvalidArgument on an unknown option or a bad
  /// value.
  bool parse(int argc, char** argv) {
    bool positional_seen = false;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        std::cout << usage();
        return false;
      }
      if (a == "--out") {
        if (i + 1 >= argc) throw hwnas::InvalidArgument("--out needs a value");
        out_ = argv[++i];
        continue;
      }
      const auto it = std::find_if(options_.begin(), options_.end(), [&](const Option& o) { return o.name == a; });
      if (it != options_.end()) {
        if (it->value.empty()) {
          it->set("");
        } else {
          if (i + 1 >= argc) throw hwnas::InvalidArgument(a + " needs a value");
          it->set(argv[++i]);
        }
      } else if (!a.empty() && a[0] != '-' && positional_out_ != nullptr && !positional_seen) {
        *positional_out_ = a;
        positional_seen = true;
      } else {
        throw hwnas::InvalidArgument("unexpected argument '" + a + "' (--help lists the options)");
      }
    }
    return true;
  }

  /// Prints `result` (hwnas::dump_json) to the --out file, atomically, or to stdout.
  void emit(const hwnas::Json& result) const {
    const std::string text = hwnas::dump_json(result) + "\n";
    if (out_.empty()) {
      std::cout << text << std::flush;
    } else {
      hwnas::detail::write_file_atomic(out_, text);
    }
  }

  std::string usage() const {
    std::ostringstream s;
    s << "usage: " << program_;
    if (positional_out_ != nullptr) s << " [" << positional_.name << "]";
    for (const auto& o : options_) s << " [" << o.name << (o.value.empty() ? "" : " " + o.value) << "]";
    s << " [--out FILE]\n" << summary_ << "\n";
    const auto line = [&s](const std::string& left, const std::string& help) {
      s << "  " << left << std::string(left.size() < 22 ? 22 - left.size() : 1, ' ') << help << '\n';
    };
    if (positional_out_ != nullptr) line(positional_.name, positional_.help);
    for (const auto& o : options_) line(o.name + (o.value.empty() ? "" : " " + o.value), o.help);
    line("--out FILE", "write the JSON to FILE instead of stdout");
    return s.str();
  }

 private:
  struct Option {
    std::string name, value, help;  // value: its placeholder; empty for a flag
    std::function<void(const std::string&)> set;
  };
  struct Positional {
    std::string name, help;
  };

  Args& add(std::string name, std::string value, std::string help, std::function<void(const std::string&)> set) {
    options_.push_back({std::move(name), std::move(value), std::move(help), std::move(set)});
    return *this;
  }

  static std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, ',');) {
      if (!item.empty()) out.push_back(item);
    }
    return out;
  }

  // std::from_chars, not stoul: "-1" must not become a huge unsigned, and
  // "12abc" must not become 12.
  template <class T>
  static T parse_number(const std::string& option, const std::string& v) {
    static_assert(std::is_arithmetic_v<T>);
    T x{};
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc() || end != v.data() + v.size()) {
      throw hwnas::InvalidArgument(option + ": expected a number, found '" + v + "'");
    }
    return x;
  }

  std::string program_, summary_;
  std::vector<Option> options_;
  Positional positional_;
  std::filesystem::path* positional_out_ = nullptr;
  std::filesystem::path out_;
};

/// main's body with the error report every study gives: "<program>: <what>"
/// on stderr and exit code 1.
template <class Body>
int guarded(std::string_view program, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << '\n';
  } catch (...) {
    std::cerr << program << ": unknown error\n";
  }
  return 1;
}

}  // namespace hwnas_experiment
