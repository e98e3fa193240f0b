// hwnas.space() and hwnas.Space: presets, FBNet and a user's JSON
// definition; sampling, checks, evolution's operators, counts, encodings,
// MACs; and the conversion of architectures between Python and C++.
#include <climits>
#include <cmath>
#include <optional>
#include <string>

#include "bindings.hpp"
#include "hwnas/io/space.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "hwnas/random.hpp"
#include "hwnas/space/fbnet_space.hpp"

namespace hwnas_py {

namespace {

std::string type_name(py::handle value) { return Py_TYPE(value.ptr())->tp_name; }

/// An integer: Python's int or anything with __index__ (NumPy's integers),
/// not a bool; nullopt otherwise.
std::optional<long long> as_integer(PyObject* item) {
  if (PyBool_Check(item)) return std::nullopt;
  if (PyLong_Check(item) || PyIndex_Check(item)) {
    const long long v = PyLong_Check(item) ? PyLong_AsLongLong(item) : PyNumber_AsSsize_t(item, nullptr);
    if (!PyErr_Occurred()) return v;
    PyErr_Clear();
  }
  return std::nullopt;
}

// The CPython API rather than pybind11's wrappers: predicting a list of
// specs spends most of its time here (docs/python.md, speed).
std::vector<int> int_list(PyObject* value, const char* field) {
  if (PyUnicode_Check(value) || !PySequence_Check(value)) {
    throw hwnas::InvalidArgument(std::string("field '") + field + "': expected a list of integers, found " +
                                 type_name(value));
  }
  const auto seq = py::reinterpret_steal<py::object>(PySequence_Fast(value, ""));
  if (!seq) throw py::error_already_set();
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
  PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
  std::vector<int> out(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    const auto v = as_integer(items[i]);
    if (!v || *v < INT_MIN || *v > INT_MAX) {
      throw hwnas::InvalidArgument(std::string("field '") + field + "[" + std::to_string(i) +
                                   "]': expected an integer, found " + std::string(py::repr(items[i])));
    }
    out[static_cast<std::size_t>(i)] = static_cast<int>(*v);
  }
  return out;
}

py::list int_list_to_py(const std::vector<int>& values) {
  py::list out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = py::int_(values[i]);
  return out;
}

}  // namespace

Architecture arch_from_py(const MbConvSpace&, py::handle value) {
  PyObject* spec = value.ptr();
  if (!PyDict_Check(spec)) {
    throw hwnas::InvalidArgument("expected OFA's spec, a dict with ks, e, d and r, found " + type_name(value));
  }
  PyObject *ks = nullptr, *e = nullptr, *d = nullptr, *r = nullptr, *size = nullptr;
  PyObject *key = nullptr, *v = nullptr;
  for (Py_ssize_t pos = 0; PyDict_Next(spec, &pos, &key, &v);) {
    const char* k = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : nullptr;
    if (k == nullptr) PyErr_Clear();
    const std::string_view name = k ? k : "";
    if (name == "ks") {
      ks = v;
    } else if (name == "e") {
      e = v;
    } else if (name == "d") {
      d = v;
    } else if (name == "r") {
      r = v;
    } else if (name == "image_size") {
      size = v;
    } else if (name != "wid") {
      throw hwnas::InvalidArgument("unknown field " + std::string(py::repr(key)) +
                                   "; expected ks, e, d, r or image_size (and wid)");
    }
  }
  const auto field = [](PyObject* x, const char* name) {
    if (x == nullptr) throw hwnas::InvalidArgument(std::string("missing field '") + name + "'");
    return int_list(x, name);
  };
  Architecture a;
  a.ks = field(ks, "ks");
  a.e = field(e, "e");
  a.d = field(d, "d");
  if ((r != nullptr) == (size != nullptr)) {
    throw hwnas::InvalidArgument(r ? "both 'r' and 'image_size' given; use one" : "missing field 'r' (or 'image_size')");
  }
  const char* r_name = r ? "r" : "image_size";
  PyObject* res = r ? r : size;
  std::vector<int> rs;
  if (const auto one = as_integer(res)) {
    rs.push_back(static_cast<int>(*one));
  } else {
    rs = int_list(res, r_name);
  }
  if (rs.size() != 1) {
    throw hwnas::InvalidArgument(std::string("field '") + r_name + "': expected one resolution, found " +
                                 std::string(py::repr(res)));
  }
  a.r = rs[0];
  return a;
}

CategoricalArch arch_from_py(const CategoricalSpace& space, py::handle value) {
  PyObject* list = value.ptr();
  const bool seq = PySequence_Check(list) && !PyUnicode_Check(list);
  const auto cells = seq ? py::reinterpret_steal<py::object>(PySequence_Fast(list, "")) : py::object();
  if (seq && !cells) throw py::error_already_set();
  const std::size_t n = seq ? static_cast<std::size_t>(PySequence_Fast_GET_SIZE(cells.ptr())) : 0;
  if (!seq || n != space.size()) {
    throw hwnas::InvalidArgument("expected a list of " + std::to_string(space.size()) +
                                 " choices (one per decision of space '" + space.name() + "'), found " +
                                 (seq ? "a list of " + std::to_string(n) : type_name(value)));
  }
  PyObject** items = PySequence_Fast_ITEMS(cells.ptr());
  CategoricalArch arch(n);
  for (std::size_t i = 0; i < n; ++i) {
    PyObject* cell = items[i];
    int index = -1;
    if (PyUnicode_Check(cell)) {
      Py_ssize_t length = 0;
      const char* text = PyUnicode_AsUTF8AndSize(cell, &length);
      if (text == nullptr) throw py::error_already_set();
      index = space.choice_index(i, std::string_view(text, static_cast<std::size_t>(length)));
    } else if (const auto v = as_integer(cell)) {
      index = space.choice_index(i, hwnas::detail::format_double(static_cast<double>(*v)));
    } else if (PyFloat_Check(cell)) {
      index = space.choice_index(i, hwnas::detail::format_double(PyFloat_AS_DOUBLE(cell)));
    }
    if (index < 0) {
      throw hwnas::InvalidArgument("decision '" + space.decisions()[i].name + "' (index " + std::to_string(i) +
                                   "): " + std::string(py::repr(cell)) + " is not one of its choices " +
                                   space.choices_text(i));
    }
    arch[i] = index;
  }
  return arch;
}

py::object arch_to_py(const MbConvSpace&, const Architecture& arch) {
  py::dict spec;
  spec["ks"] = int_list_to_py(arch.ks);
  spec["e"] = int_list_to_py(arch.e);
  spec["d"] = int_list_to_py(arch.d);
  spec["r"] = int_list_to_py({arch.r});
  return spec;
}

py::object arch_to_py(const CategoricalSpace& space, const CategoricalArch& arch) {
  space.validate(arch);
  py::list out(arch.size());
  for (std::size_t i = 0; i < arch.size(); ++i) {
    const auto& d = space.decisions()[i];
    const auto j = static_cast<std::size_t>(arch[i]);
    if (!d.labels.empty()) {
      out[i] = py::str(d.labels[j]);
    } else if (d.choices[j] == std::round(d.choices[j]) && std::abs(d.choices[j]) < 1e15) {
      out[i] = py::int_(static_cast<long long>(d.choices[j]));
    } else {
      out[i] = py::float_(d.choices[j]);
    }
  }
  return out;
}

bool is_one_arch(const MbConvSpace&, py::handle value) { return py::isinstance<py::dict>(value); }

bool is_one_arch(const CategoricalSpace&, py::handle value) {
  PyObject* v = value.ptr();
  if (PyUnicode_Check(v) || !PySequence_Check(v) || PySequence_Size(v) <= 0) {
    PyErr_Clear();
    return false;
  }
  const auto first = py::reinterpret_steal<py::object>(PySequence_GetItem(v, 0));
  if (!first) throw py::error_already_set();
  return PyUnicode_Check(first.ptr()) || PyFloat_Check(first.ptr()) || as_integer(first.ptr()).has_value();
}

py::object json_to_py(const hwnas::Json& value) {
  return py::module_::import("json").attr("loads")(value.dump());
}

py::array_t<double> to_numpy(const std::vector<double>& values) {
  py::array_t<double> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

namespace {

SpaceObject make_space(const std::string& name, double width, const std::vector<int>& resolutions) {
  const bool fbnet = name == "fbnet" || name == "fbnet-imagenet";
  const bool file = !fbnet && (name.starts_with('@') || name.ends_with(".json"));
  if (!fbnet && !file) {
    auto s = MbConvSpace::preset(name, width);
    return {resolutions.empty() ? s : s.with_resolutions(resolutions)};
  }
  if (width != 1.0 || !resolutions.empty()) {
    throw hwnas::InvalidArgument("space '" + name + "': a categorical space has no width or resolutions; leave "
                                 "width and resolutions out");
  }
  if (fbnet) return {hwnas::fbnet_space(name == "fbnet" ? hwnas::FbnetInput::cifar100 : hwnas::FbnetInput::imagenet)};
  return {hwnas::read_space_file(name.starts_with('@') ? name.substr(1) : name)};
}

template <class F>
auto visit(const SpaceObject& s, F&& f) {
  return std::visit(std::forward<F>(f), s.value);
}

template <class Space>
std::size_t encoding_dim(const Space& space) {
  return hwnas::encoder_for<Space>(space, {}).dim();
}

bool has_layers(const SpaceObject& s) {
  const auto* c = std::get_if<CategoricalSpace>(&s.value);
  return c == nullptr || c->has_layers();
}

/// The MACs and parameters of one architecture; `who` names the caller
/// when the space has no layer list.
hwnas::NetworkCost network_cost(const SpaceObject& s, py::handle arch, const char* who) {
  require_layers(s, who);
  return visit(s, [&](const auto& x) { return x.cost(archs_from_py(x, arch, "arch").front()); });
}

// Pickling (a Dask worker gets its space this way): a preset's name, width
// and resolutions, or a categorical space's JSON definition.
py::tuple space_state(const SpaceObject& s) {
  if (const auto* x = std::get_if<MbConvSpace>(&s.value)) {
    return py::make_tuple("mbconv", x->name(), x->options().width, x->options().resolutions);
  }
  return py::make_tuple("categorical", hwnas::space_to_json(std::get<CategoricalSpace>(s.value)).dump());
}

SpaceObject space_from_state(const py::tuple& t) {
  const auto kind = t.empty() ? std::string() : t[0].cast<std::string>();
  if (kind == "mbconv" && t.size() == 4) {
    return {MbConvSpace::preset(t[1].cast<std::string>(), t[2].cast<double>())
                .with_resolutions(t[3].cast<std::vector<int>>())};
  }
  if (kind == "categorical" && t.size() == 2) return {hwnas::parse_space_json(t[1].cast<std::string>(), "<pickle>")};
  throw hwnas::InvalidArgument("hwnas.Space: not a pickled space");
}

}  // namespace

void require_layers(const SpaceObject& s, const char* who) {
  if (!has_layers(s)) {
    throw hwnas::InvalidArgument(std::string(who) + ": space '" + std::get<CategoricalSpace>(s.value).name() +
                                 "' has no layer list (give its definition 'stem', 'layers' per decision and 'head', "
                                 "docs/spaces.md)");
  }
}

void add_spaces(py::module_& m) {
  py::class_<SpaceObject>(m, "Space",
                       "A search space: OFA's MBConv presets, FBNet, or a categorical space from a JSON definition. "
                       "Architectures are OFA's spec dicts or lists of choices.")
      .def_property_readonly("name", [](const SpaceObject& s) { return visit(s, [](const auto& x) { return x.name(); }); })
      .def_property_readonly("kind",
                             [](const SpaceObject& s) { return s.value.index() == 0 ? "mbconv" : "categorical"; })
      .def_property_readonly("width",
                             [](const SpaceObject& s) -> py::object {
                               if (const auto* x = std::get_if<MbConvSpace>(&s.value)) return py::float_(x->options().width);
                               return py::none();
                             })
      .def_property_readonly("resolutions",
                             [](const SpaceObject& s) -> py::object {
                               if (const auto* x = std::get_if<MbConvSpace>(&s.value)) return py::cast(x->options().resolutions);
                               return py::none();
                             })
      .def_property_readonly("decisions",
                             [](const SpaceObject& s) -> py::object {
                               const auto* x = std::get_if<CategoricalSpace>(&s.value);
                               if (x == nullptr) return py::none();
                               py::list out;
                               for (std::size_t i = 0; i < x->size(); ++i) {
                                 py::list choices;
                                 for (std::size_t j = 0; j < x->decisions()[i].choices.size(); ++j) {
                                   choices.append(x->choice_text(i, j));
                                 }
                                 out.append(py::make_tuple(x->decisions()[i].name, choices));
                               }
                               return out;
                             },
                             "a categorical space's (name, choices) per decision; None for an MBConv space")
      .def_property_readonly("has_layers", &has_layers, "whether MACs, lookup tables and measurement apply")
      .def_property_readonly("dim", [](const SpaceObject& s) { return visit(s, [](const auto& x) { return encoding_dim(x); }); },
                             "length of the feature vector of encode()")
      .def(
          "count",
          [](const SpaceObject& s) {
            return py::int_(py::str(visit(s, [](const auto& x) { return x.count().to_string(); })));
          },
          "the number of distinct networks")
      .def(
          "sample",
          [](const SpaceObject& s, std::optional<std::size_t> n, std::uint64_t seed) {
            return visit(s, [&](const auto& x) -> py::object {
              hwnas::Rng rng(seed);
              if (!n) return arch_to_py(x, x.sample(rng));
              std::vector<typename std::decay_t<decltype(x)>::arch_type> archs;
              archs.reserve(*n);
              for (std::size_t i = 0; i < *n; ++i) archs.push_back(x.sample(rng));
              return archs_to_py(x, archs);
            });
          },
          py::arg("n") = py::none(), py::kw_only(), py::arg("seed") = 0,
          "a random architecture, or a list of n; the same for the same seed")
      .def(
          "validate",
          [](const SpaceObject& s, py::handle arch) {
            visit(s, [&](const auto& x) { x.validate(arch_from_py(x, arch)); });
          },
          py::arg("arch"), "raises hwnas.InvalidArgument naming the field when arch is not in the space")
      .def(
          "is_valid",
          [](const SpaceObject& s, py::handle arch) {
            try {
              visit(s, [&](const auto& x) { x.validate(arch_from_py(x, arch)); });
              return true;
            } catch (const hwnas::InvalidArgument&) {
              return false;
            }
          },
          py::arg("arch"))
      .def(
          "mutate",
          [](const SpaceObject& s, py::handle arch, std::uint64_t seed, double probability) {
            return visit(s, [&](const auto& x) {
              const auto a = archs_from_py(x, arch, "arch").front();
              hwnas::Rng rng(seed);
              typename std::decay_t<decltype(x)>::MutationOptions o;
              o.probability = probability;
              return arch_to_py(x, x.mutate(a, rng, o));
            });
          },
          py::arg("arch"), py::kw_only(), py::arg("seed") = 0, py::arg("probability") = 0.1,
          "OFA's mutation: each decision redrawn with this probability")
      .def(
          "crossover",
          [](const SpaceObject& s, py::handle a, py::handle b, std::uint64_t seed) {
            return visit(s, [&](const auto& x) {
              hwnas::Rng rng(seed);
              return arch_to_py(x, x.crossover(archs_from_py(x, a, "a").front(), archs_from_py(x, b, "b").front(), rng));
            });
          },
          py::arg("a"), py::arg("b"), py::kw_only(), py::arg("seed") = 0)
      .def(
          "hash",
          [](const SpaceObject& s, py::handle arch) {
            return visit(s, [&](const auto& x) { return x.hash(archs_from_py(x, arch, "arch").front()); });
          },
          py::arg("arch"), "stable across runs; equal for architectures that are the same network")
      .def(
          "encode",
          [](const SpaceObject& s, py::handle archs) {
            return visit(s, [&](const auto& x) {
              const auto list = archs_from_py(x, archs, "archs");
              const hwnas::encoder_for<std::decay_t<decltype(x)>> enc(x, {});
              const auto f = enc.template encode_batch<double>(list);
              py::array_t<double> out({static_cast<py::ssize_t>(f.rows()), static_cast<py::ssize_t>(f.cols())});
              auto o = out.mutable_unchecked<2>();
              for (Eigen::Index i = 0; i < f.rows(); ++i) {
                for (Eigen::Index j = 0; j < f.cols(); ++j) o(i, j) = f(i, j);
              }
              return out;
            });
          },
          py::arg("archs"),
          "the predictors' feature vectors (the method's one-hot: one row per architecture, dim columns)")
      .def(
          "macs", [](const SpaceObject& s, py::handle arch) { return network_cost(s, arch, "macs").macs; },
          py::arg("arch"), "multiply-accumulates of the network (spaces with a layer list)")
      .def(
          "params", [](const SpaceObject& s, py::handle arch) { return network_cost(s, arch, "params").params; },
          py::arg("arch"), "parameters of the network (spaces with a layer list)")
      .def("__eq__", [](const SpaceObject& a, const SpaceObject& b) { return a.value == b.value; })
      .def(py::pickle(&space_state, &space_from_state))
      .def("__repr__", [](const SpaceObject& s) {
        return visit(s, [](const auto& x) {
          if constexpr (std::is_same_v<std::decay_t<decltype(x)>, MbConvSpace>) {
            return "hwnas.Space('" + x.name() + "', width=" + hwnas::detail::format_double(x.options().width) + ")";
          } else {
            return "hwnas.Space('" + x.name() + "', " + std::to_string(x.size()) + " decisions)";
          }
        });
      });

  m.def("space", &make_space, py::arg("name") = "ofa-mbv3", py::arg("width") = 1.0,
        py::arg("resolutions") = std::vector<int>{},
        "A search space by name: ofa-mbv3, compofa-fixed, compofa-elastic, ofa-proxyless (with width and "
        "resolutions), fbnet, fbnet-imagenet, or a categorical space's JSON definition (a path ending in .json, or "
        "'@' and a path; docs/spaces.md).");
}

}  // namespace hwnas_py
