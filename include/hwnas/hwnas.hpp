// Umbrella header for the core of hwnas (Eigen only). The file-format headers
// that need nlohmann-json or yaml-cpp (hwnas/arch_io.hpp, hwnas/lut_io.hpp,
// target hwnas::io) and the
// optional measurement adapters are included separately.
#pragma once

#include "hwnas/architecture.hpp"
#include "hwnas/dataset.hpp"
#include "hwnas/device.hpp"
#include "hwnas/device_predictor.hpp"
#include "hwnas/big_uint.hpp"
#include "hwnas/encoding.hpp"
#include "hwnas/ensemble.hpp"
#include "hwnas/error.hpp"
#include "hwnas/lut.hpp"
#include "hwnas/metrics.hpp"
#include "hwnas/model_file.hpp"
#include "hwnas/nn/loss.hpp"
#include "hwnas/nn/mlp.hpp"
#include "hwnas/nn/sgd.hpp"
#include "hwnas/npy.hpp"
#include "hwnas/predictor.hpp"
#include "hwnas/random.hpp"
#include "hwnas/search/evolution.hpp"
#include "hwnas/space/categorical_space.hpp"
#include "hwnas/space/layer.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "hwnas/space/search_space.hpp"
#include "hwnas/transfer.hpp"
#include "hwnas/tune.hpp"
#include "hwnas/version.hpp"
