// The FBNet search space as HW-NAS-Bench and HELP use it: 22 searchable
// layers, each one of 9 operations, in HELP's index order (its
// `data/fbnet/` files and ../shared/data/help-fbnet/ops.json), with the
// network they stand for: FBNet's macro structure (stem, 7 stages of
// 1, 4, 4, 4, 4, 4, 1 layers with 16 ... 352 channels, a 1x1 head) as
// HW-NAS-Bench's FBNet_Infer builds it (docs/spaces.md).
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "hwnas/space/categorical_space.hpp"

namespace hwnas {

/// FBNet's 9 candidate operations by index: kernel size, expand ratio, g2 =
/// grouped 1x1 convolutions in 2 groups; `skip` is the identity (a layer
/// left out).
inline const std::vector<std::string>& fbnet_operations() {
  static const std::vector<std::string> ops{"k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1",
                                            "k5_e1_g2", "k5_e3", "k5_e6", "skip"};
  return ops;
}

/// The input FBNet's network is built for, as HW-NAS-Bench builds both:
/// CIFAR-100 (32x32, a stride-1 stem, stage strides 1 1 2 2 1 2 1, a
/// 1504-wide head, 100 classes) or ImageNet (224x224, a stride-2 stem,
/// strides 1 2 2 2 1 2 1, 1984, 1000 classes: the FBNet paper's network).
enum class FbnetInput { cifar100, imagenet };

/// The FBNet space: decisions op0..op21, choice values 0..8 (the dataset
/// cells of HELP's fbnet CSVs) labelled with fbnet_operations(), and its
/// layers for `input`. Named `fbnet` for CIFAR-100 (the network whose MACs
/// rank HELP's CPU and phone latencies best, docs/spaces.md) and
/// `fbnet-imagenet` for ImageNet.
inline CategoricalSpace fbnet_space(FbnetInput input = FbnetInput::cifar100) {
  const bool imagenet = input == FbnetInput::imagenet;
  constexpr std::array<int, 7> kLayers{1, 4, 4, 4, 4, 4, 1};
  constexpr std::array<int, 7> kChannels{16, 24, 32, 64, 112, 184, 352};
  const std::array<int, 7> strides = imagenet ? std::array<int, 7>{1, 2, 2, 2, 1, 2, 1}
                                              : std::array<int, 7>{1, 1, 2, 2, 1, 2, 1};
  const int head_channels = imagenet ? 1984 : 1504;
  const int classes = imagenet ? 1000 : 100;

  // A convolution with batch norm and ReLU (FBNet's ConvNorm).
  auto conv = [](LayerKind kind, int size, int cin, int cout, int kernel, int stride) {
    return conv_layer(kind, size, cin, cout, kernel, stride, Activation::relu, true);
  };

  SpaceLayers layers;
  const int input_size = imagenet ? 224 : 32;
  layers.stem.push_back(conv(LayerKind::first_conv, input_size, 3, 16, 3, imagenet ? 2 : 1));
  int size = layers.stem.back().out_size, cin = 16;
  std::vector<Decision> decisions;
  for (std::size_t stage = 0; stage < kLayers.size(); ++stage) {
    for (int i = 0; i < kLayers[stage]; ++i) {
      const int cout = kChannels[stage], stride = i == 0 ? strides[stage] : 1;
      std::vector<std::vector<Layer>> per_op;
      for (const std::string& op : fbnet_operations()) {
        if (op == "skip") {  // the identity, or a 1x1 projection where the shape changes
          const bool project = stride != 1 || cin != cout;
          per_op.push_back(project ? std::vector<Layer>{conv(LayerKind::conv, size, cin, cout, 1, stride)}
                                   : std::vector<Layer>{});
          continue;
        }
        Layer b = conv(LayerKind::mbconv, size, cin, cout, op[1] - '0', stride);
        b.expand_ratio = op[4] - '0';
        b.mid_channels = cin * b.expand_ratio;
        b.groups = op.ends_with("_g2") ? 2 : 1;
        b.always_expand = true;
        b.shortcut = stride == 1 && cin == cout;
        per_op.push_back({b});
      }
      Decision d{"op" + std::to_string(decisions.size()), {}, fbnet_operations()};
      for (int op = 0; op < 9; ++op) d.choices.push_back(op);
      decisions.push_back(std::move(d));
      layers.choices.push_back(std::move(per_op));
      size = (size - 1) / stride + 1;
      cin = cout;
    }
  }
  layers.head.push_back(conv(LayerKind::final_expand, size, cin, head_channels, 1, 1));
  layers.head.push_back(global_pool(size, head_channels));
  Layer fc;
  fc.kind = LayerKind::classifier;
  fc.in_size = fc.out_size = 1;
  fc.in_channels = head_channels;
  fc.out_channels = classes;
  fc.bias = true;
  layers.head.push_back(fc);
  return CategoricalSpace(std::move(decisions), imagenet ? "fbnet-imagenet" : "fbnet", std::move(layers));
}

}  // namespace hwnas
