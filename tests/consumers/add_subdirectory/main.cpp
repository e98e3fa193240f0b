// Consumer check (add_subdirectory): the installed/embedded headers compile with only the
// hwnas targets linked, and the basics work.
#include <hwnas/error.hpp>
#include <hwnas/random.hpp>
#include <hwnas/version.hpp>

#include <iostream>

int main() {
  hwnas::Rng rng(42);
  try {
    (void)rng.uniform_index(0);
    std::cerr << "expected hwnas::InvalidArgument\n";
    return 1;
  } catch (const hwnas::InvalidArgument&) {
  }
  std::cout << "hwnas " << hwnas::version_string << " random " << rng() << '\n';
  return 0;
}
