// Importing a PyTorch nn.Sequential MLP, exported one .npy per tensor, as a
// LatencyPredictor (OFA's accuracy predictor is one).
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "hwnas/error.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/predictor/npy.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas {

/// Imports a PyTorch nn.Sequential of Linear layers with one module (a ReLU)
/// between consecutive ones, exported one float32 .npy per tensor:
/// `<idx>.weight.npy` ([out, in]) and `<idx>.bias.npy` ([out]) in `dir`,
/// taken in index order (OFA's accuracy predictor: 0, 2, 4, 6). Layer sizes
/// come from the arrays; the first layer's inputs must equal the encoder's
/// dim(), and the last layer has one output. Target scaling is the identity
/// (standardize, mean 0, scale 1), so predict() returns the network's output.
/// FormatError naming the offending file; IoError when `dir` is unreadable.
template <class Scalar = float>
LatencyPredictor<Scalar> import_torch_npy(const std::filesystem::path& dir, MbConvSpace space,
                                          Encoder::Options encoding = {});

// ---------------------------------------------------------------------------

template <class Scalar>
LatencyPredictor<Scalar> import_torch_npy(const std::filesystem::path& dir, MbConvSpace space,
                                          Encoder::Options encoding) {
  namespace fs = std::filesystem;
  const std::string where = dir.string();
  // Tensors by Sequential index: which of weight and bias are present.
  std::map<std::size_t, std::pair<bool, bool>> found;
  try {
    if (!fs::is_directory(dir)) {
      throw IoError("import_torch_npy: '" + where + "' is not a folder" +
                    (fs::exists(dir) ? "" : " (it does not exist)"));
    }
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (name.size() <= 4 || name.substr(name.size() - 4) != ".npy") continue;
      const std::string stem = name.substr(0, name.size() - 4);
      const std::size_t dot = stem.find('.');
      const std::string index = stem.substr(0, dot);
      if (dot == std::string::npos || index.empty() || index.size() > 9 ||
          !std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        continue;  // not a tensor of an nn.Sequential
      }
      const std::string tensor = stem.substr(dot + 1);
      auto& slot = found[std::stoul(index)];
      if (tensor == "weight") {
        slot.first = true;
      } else if (tensor == "bias") {
        slot.second = true;
      } else {
        throw FormatError(entry.path().string(), 0, 0,
                          "unsupported tensor '" + tensor +
                              "': only Linear layers (<idx>.weight.npy, <idx>.bias.npy) can be imported");
      }
    }
  } catch (const fs::filesystem_error& e) {
    throw IoError("import_torch_npy: cannot list '" + where + "': " + e.code().message());
  }
  if (found.empty()) {
    throw FormatError(where, 0, 0,
                      "no PyTorch Linear weights found; expected files <idx>.weight.npy and <idx>.bias.npy "
                      "(0.weight.npy, 0.bias.npy, 2.weight.npy, ...)");
  }

  auto file = [&](std::size_t idx, const char* tensor) {
    return (dir / (std::to_string(idx) + "." + tensor + ".npy")).string();
  };
  const std::size_t input_dim = Encoder(space, encoding).dim();
  std::vector<NpyArray<float>> weights, biases;
  std::vector<std::size_t> sizes{input_dim};
  std::size_t prev_idx = 0;
  for (const auto& [idx, has] : found) {
    if (!has.first) {
      throw FormatError(file(idx, "weight"), 0, 0,
                        "missing (layer " + std::to_string(idx) + " has a bias but no weight)");
    }
    if (!has.second) {
      throw FormatError(
          file(idx, "bias"), 0, 0,
          "missing (layer " + std::to_string(idx) + " has a weight but no bias; hwnas's layers always have one)");
    }
    const std::string wname = file(idx, "weight");
    if (!weights.empty() && idx == prev_idx + 1) {
      throw FormatError(wname, 0, 0,
                        "Linear layers " + std::to_string(prev_idx) + " and " + std::to_string(idx) +
                            " are adjacent; hwnas's MLP applies a ReLU between Linear layers, so the Sequential "
                            "must have a module (the ReLU) between them");
    }
    NpyArray<float> w = read_npy<float>(wname);
    if (w.shape.size() != 2 || w.shape[0] == 0 || w.shape[1] == 0) {
      throw FormatError(wname, 0, 0, "shape " + npy_shape_string(w.shape) + " but a Linear weight is [out, in]");
    }
    const std::size_t out = w.shape[0], in = w.shape[1];
    if (in != sizes.back()) {
      const std::string from =
          weights.empty()
              ? "the encoder of space '" + space.name() + "' gives " + std::to_string(input_dim) + " features"
              : std::to_string(prev_idx) + ".weight.npy has " + std::to_string(sizes.back()) + " outputs";
      throw FormatError(wname, 0, 0,
                        "shape " + npy_shape_string(w.shape) + ": " + std::to_string(in) + " inputs but " + from);
    }
    NpyArray<float> b = read_npy<float>(file(idx, "bias"));
    if (b.shape.size() != 1 || b.shape[0] != out) {
      throw FormatError(file(idx, "bias"), 0, 0,
                        "shape " + npy_shape_string(b.shape) + " but " + std::to_string(idx) + ".weight.npy has " +
                            std::to_string(out) + " outputs, so the bias should be (" + std::to_string(out) + ",)");
    }
    sizes.push_back(out);
    weights.push_back(std::move(w));
    biases.push_back(std::move(b));
    prev_idx = idx;
  }
  if (sizes.back() != 1) {
    throw FormatError(file(prev_idx, "weight"), 0, 0,
                      "the last layer has " + std::to_string(sizes.back()) + " outputs; a predictor has 1");
  }

  PredictorOptions po;
  po.encoding = std::move(encoding);
  po.hidden.assign(sizes.begin() + 1, sizes.end() - 1);
  po.target = TargetTransform::standardize;
  LatencyPredictor<Scalar> p(std::move(space), std::move(po));
  auto& net = p.network();
  using TorchWeight = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  for (std::size_t l = 0; l < weights.size(); ++l) {
    const auto out = static_cast<Eigen::Index>(sizes[l + 1]), in = static_cast<Eigen::Index>(sizes[l]);
    // PyTorch's [out, in] row-major is the transpose of the Mlp's in x out.
    net.weight(l) =
        Eigen::Map<const TorchWeight>(weights[l].values.data(), out, in).transpose().template cast<Scalar>();
    net.bias(l) =
        Eigen::Map<const Eigen::Matrix<float, 1, Eigen::Dynamic>>(biases[l].values.data(), out).template cast<Scalar>();
  }
  p.set_target_scaling(0.0, 1.0);
  return p;
}

}  // namespace hwnas
