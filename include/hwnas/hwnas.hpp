// Umbrella header for the core of hwnas (Eigen only): spaces, the learned
// predictor family, lookup tables and the search. The file formats that need
// nlohmann-json or yaml-cpp (hwnas/io/, target hwnas::io) and the optional
// measurement adapters (hwnas/measure/, target hwnas::measure) are included
// separately.
#pragma once

#include "hwnas/architecture.hpp"
#include "hwnas/big_uint.hpp"
#include "hwnas/dataset.hpp"
#include "hwnas/dataset_columns.hpp"
#include "hwnas/device.hpp"
#include "hwnas/error.hpp"
#include "hwnas/lut/lookup_table.hpp"
#include "hwnas/lut/lut_estimator.hpp"
#include "hwnas/metrics.hpp"
#include "hwnas/nn/loss.hpp"
#include "hwnas/nn/mlp.hpp"
#include "hwnas/nn/sgd.hpp"
#include "hwnas/predictor/additive_device.hpp"
#include "hwnas/predictor/device_predictor.hpp"
#include "hwnas/predictor/encoding.hpp"
#include "hwnas/predictor/ensemble.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/predictor/model_file.hpp"
#include "hwnas/predictor/npy.hpp"
#include "hwnas/predictor/torch_import.hpp"
#include "hwnas/predictor/transfer.hpp"
#include "hwnas/predictor/tune.hpp"
#include "hwnas/random.hpp"
#include "hwnas/search/evolution.hpp"
#include "hwnas/search/score.hpp"
#include "hwnas/space/categorical_space.hpp"
#include "hwnas/space/fbnet_space.hpp"
#include "hwnas/space/layer.hpp"
#include "hwnas/space/mbconv_space.hpp"
#include "hwnas/space/search_space.hpp"
#include "hwnas/split.hpp"
#include "hwnas/version.hpp"
