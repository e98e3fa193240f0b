# CTest driver (cmake -P): the layers of include/hwnas/ and the targets that
# carry them. Each header's direct includes must stay inside its layer:
#   core     (hwnas::hwnas)   hwnas headers outside io/ and measure/; Eigen
#   io       (hwnas::io)      + io/ headers, nlohmann-json, yaml-cpp
#   measure  (hwnas::measure) + measure/ headers
#   measure/builders.hpp      measure + io (it writes datasets and OFA's YAML)
#   measure/torch_adapter.hpp measure + libtorch
#   measure/executors.hpp     measure + torch_adapter.hpp (included only where
#                             hwnas::measure_torch defines HWNAS_WITH_TORCH_ADAPTER)
# Checking direct includes suffices: every included hwnas header is checked
# against its own layer in turn.
#   cmake -DINCLUDE_DIR=<repo>/include -P check_layers.cmake
cmake_minimum_required(VERSION 3.21)
if(NOT DEFINED INCLUDE_DIR)
  message(FATAL_ERROR "check_layers.cmake: -DINCLUDE_DIR=... is required")
endif()

# hwnas_layer(<var> <header relative to include/>): core, io, measure,
# measure_io, measure_torch or measure_executors.
function(hwnas_layer var header)
  if(header MATCHES "^hwnas/io/")
    set(${var} io PARENT_SCOPE)
  elseif(header STREQUAL "hwnas/measure/builders.hpp")
    set(${var} measure_io PARENT_SCOPE)
  elseif(header STREQUAL "hwnas/measure/torch_adapter.hpp")
    set(${var} measure_torch PARENT_SCOPE)
  elseif(header STREQUAL "hwnas/measure/executors.hpp")
    set(${var} measure_executors PARENT_SCOPE)
  elseif(header MATCHES "^hwnas/measure/")
    set(${var} measure PARENT_SCOPE)
  else()
    set(${var} core PARENT_SCOPE)
  endif()
endfunction()

# What each layer may include: hwnas layers and third-party prefixes.
set(_allow_core core)
set(_allow_io core io)
set(_allow_measure core measure)
set(_allow_measure_io core io measure)
set(_allow_measure_torch core measure)
set(_allow_measure_executors core measure measure_torch)
set(_third_party "nlohmann/|yaml-cpp/|torch/|ATen/|c10/|cuda|CLI/|fmt/|benchmark/|doctest/|xtensor")
set(_third_io "nlohmann/|yaml-cpp/")
set(_third_measure_torch "torch/|ATen/|c10/|cuda")

file(GLOB_RECURSE _headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/hwnas/*.hpp")
list(SORT _headers)
set(_problems "")
foreach(_header IN LISTS _headers)
  hwnas_layer(_layer "${_header}")
  file(STRINGS "${INCLUDE_DIR}/${_header}" _lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  foreach(_line IN LISTS _lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*$" "\\1" _included "${_line}")
    if(_included MATCHES "^hwnas/")
      hwnas_layer(_theirs "${_included}")
      if(NOT _theirs IN_LIST _allow_${_layer})
        string(APPEND _problems "  ${_header} (${_layer}) includes ${_included} (${_theirs})\n")
      endif()
    elseif(_included MATCHES "^(${_third_party})")
      set(_ok FALSE)
      if(DEFINED _third_${_layer} AND _included MATCHES "^(${_third_${_layer}})")
        set(_ok TRUE)
      elseif(_layer STREQUAL "measure_io" AND _included MATCHES "^(${_third_io})")
        set(_ok TRUE)
      endif()
      if(NOT _ok)
        string(APPEND _problems "  ${_header} (${_layer}) includes <${_included}>\n")
      endif()
    endif()
  endforeach()
endforeach()
list(LENGTH _headers _count)
if(NOT _problems STREQUAL "")
  message(FATAL_ERROR "headers outside their layer (tests/check_layers.cmake):\n${_problems}")
endif()
message(STATUS "${_count} headers inside their layers")
