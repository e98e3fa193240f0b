// What the Python module's files share: the spaces it runs on, the
// conversion of architectures between Python (OFA's spec dict, a list of a
// categorical space's choices) and C++, and JSON values as Python objects.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <variant>
#include <vector>

#include "hwnas/io/json.hpp"
#include "hwnas/space/categorical_space.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas_py {

namespace py = pybind11;
using hwnas::Architecture;
using hwnas::CategoricalArch;
using hwnas::CategoricalSpace;
using hwnas::MbConvSpace;

/// hwnas.Space: OFA's MBConv presets or a categorical space (FBNet, a JSON
/// definition).
using AnySpace = std::variant<MbConvSpace, CategoricalSpace>;
/// hwnas.Space (a class of its own: pybind11 would turn a bare variant into
/// whichever alternative it holds).
struct SpaceObject {
  AnySpace value;
};

/// The Python side of an architecture: `hwnas.Space` holds the space that
/// gives it meaning.
Architecture arch_from_py(const MbConvSpace& space, py::handle value);
CategoricalArch arch_from_py(const CategoricalSpace& space, py::handle value);
/// OFA's spec {"ks": [...], "e": [...], "d": [...], "r": [r]}, or the list
/// of a categorical space's choices (labels where the decision has them).
py::object arch_to_py(const MbConvSpace& space, const Architecture& arch);
py::object arch_to_py(const CategoricalSpace& space, const CategoricalArch& arch);

/// InvalidArgument naming `who` unless the space has a layer list (what
/// MACs, lookup tables and measurement need).
void require_layers(const SpaceObject& space, const char* who);

/// Whether `value` is one architecture of `space` (a dict; a list whose
/// first entry is a choice) rather than a sequence of them.
bool is_one_arch(const MbConvSpace& space, py::handle value);
bool is_one_arch(const CategoricalSpace& space, py::handle value);

/// One architecture or a sequence of them, each checked against `space`;
/// `what` names the argument in errors ("archs[3]: ...").
template <class Space>
std::vector<typename Space::arch_type> archs_from_py(const Space& space, py::handle value, const char* what) {
  std::vector<typename Space::arch_type> out;
  const auto take = [&](py::handle item, const std::string& where) {
    try {
      auto a = arch_from_py(space, item);
      space.validate(a);
      out.push_back(std::move(a));
    } catch (const hwnas::InvalidArgument& e) {
      throw hwnas::InvalidArgument(where + ": " + e.what());
    }
  };
  if (is_one_arch(space, value)) {
    take(value, what);
    return out;
  }
  if (!py::isinstance<py::sequence>(value) || py::isinstance<py::str>(value)) {
    throw hwnas::InvalidArgument(std::string(what) + ": expected an architecture or a sequence of them, found " +
                                 std::string(py::str(value.get_type().attr("__name__"))));
  }
  const auto seq = py::reinterpret_borrow<py::sequence>(value);
  out.reserve(seq.size());
  for (std::size_t i = 0; i < seq.size(); ++i) take(seq[i], std::string(what) + "[" + std::to_string(i) + "]");
  return out;
}

template <class Space>
py::list archs_to_py(const Space& space, const std::vector<typename Space::arch_type>& archs) {
  py::list out(archs.size());
  for (std::size_t i = 0; i < archs.size(); ++i) out[i] = arch_to_py(space, archs[i]);
  return out;
}

/// A JSON value as Python's json module would load it.
py::object json_to_py(const hwnas::Json& value);

/// A copy of `values` as a 1-d NumPy array.
py::array_t<double> to_numpy(const std::vector<double>& values);

/// Registration, one function per file.
void add_errors(py::module_& m);
void add_spaces(py::module_& m);
void add_models(py::module_& m);
void add_devices(py::module_& m);
void add_search(py::module_& m);
void add_measure(py::module_& m);
void add_tune(py::module_& m);

}  // namespace hwnas_py
