// The extension module hwnas._hwnas (imported by the package hwnas) and the
// exception hierarchy that mirrors hwnas::Error's.
#include "bindings.hpp"
#include "hwnas/error.hpp"
#include "hwnas/version.hpp"

namespace hwnas_py {

namespace {

/// A new exception class hwnas.<name> with these bases, added to `m`; never
/// freed (the translator below may run until the interpreter ends).
py::handle new_error(py::module_& m, const char* name, std::initializer_list<py::handle> bases, const char* doc) {
  py::tuple b(bases.size());
  std::size_t i = 0;
  for (const auto base : bases) b[i++] = py::reinterpret_borrow<py::object>(base);
  const std::string full = std::string("hwnas.") + name;
  auto type = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(full.c_str(), doc, b.ptr(), nullptr));
  if (!type) throw py::error_already_set();
  m.attr(name) = type;
  return type.release();
}

}  // namespace

void add_errors(py::module_& m) {
  static const py::handle error = new_error(m, "Error", {PyExc_RuntimeError}, "Root of every error hwnas raises.");
  static const py::handle invalid = new_error(m, "InvalidArgument", {error, PyExc_ValueError},
                                              "Bad options, an invalid architecture, a value outside its allowed set.");
  static const py::handle shape = new_error(m, "ShapeMismatch", {error, PyExc_ValueError},
                                            "Sizes that do not fit together.");
  static const py::handle io = new_error(m, "IoError", {error, PyExc_OSError},
                                         "A file that cannot be opened, read, written or renamed.");
  static const py::handle format = new_error(
      m, "FormatError", {error, PyExc_ValueError},
      "A file whose content does not follow its format; .file, .line and .column (1-based, 0: unknown) say where.");
  static const py::handle backend = new_error(m, "BackendError", {error}, "A failure of a runtime or driver; .code.");

  py::register_exception_translator([](std::exception_ptr p) {
    const auto raise = [](py::handle type, const std::exception& e) { PyErr_SetString(type.ptr(), e.what()); };
    try {
      if (p) std::rethrow_exception(p);
    } catch (const hwnas::FormatError& e) {
      py::object value = format(e.what());
      value.attr("file") = e.file();
      value.attr("line") = e.line();
      value.attr("column") = e.column();
      PyErr_SetObject(format.ptr(), value.ptr());
    } catch (const hwnas::BackendError& e) {
      py::object value = backend(e.what());
      value.attr("code") = e.code();
      PyErr_SetObject(backend.ptr(), value.ptr());
    } catch (const hwnas::InvalidArgument& e) {
      raise(invalid, e);
    } catch (const hwnas::ShapeMismatch& e) {
      raise(shape, e);
    } catch (const hwnas::IoError& e) {
      raise(io, e);
    } catch (const hwnas::Error& e) {
      raise(error, e);
    }
  });
}

}  // namespace hwnas_py

PYBIND11_MODULE(_hwnas, m) {
  m.doc() = "hwnas: hardware-aware neural architecture search (the C++ library's Python module)";
  m.attr("__version__") = HWNAS_VERSION_STRING;
  hwnas_py::add_errors(m);
  hwnas_py::add_spaces(m);
  hwnas_py::add_models(m);
  hwnas_py::add_devices(m);
  hwnas_py::add_search(m);
  hwnas_py::add_measure(m);
  hwnas_py::add_tune(m);
}
