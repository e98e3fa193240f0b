// Library version. CMake parses the three macros below, so keep their form.
#pragma once

#define HWNAS_VERSION_MAJOR 0
#define HWNAS_VERSION_MINOR 1
#define HWNAS_VERSION_PATCH 0

#define HWNAS_DETAIL_STR2(x) #x
#define HWNAS_DETAIL_STR(x) HWNAS_DETAIL_STR2(x)
/// "MAJOR.MINOR.PATCH" as a string literal.
#define HWNAS_VERSION_STRING                                                  \
  HWNAS_DETAIL_STR(HWNAS_VERSION_MAJOR)                                       \
  "." HWNAS_DETAIL_STR(HWNAS_VERSION_MINOR) "." HWNAS_DETAIL_STR(HWNAS_VERSION_PATCH)

namespace hwnas {
/// The version of the headers in use, e.g. "0.1.0".
inline constexpr const char* version_string = HWNAS_VERSION_STRING;
}  // namespace hwnas
