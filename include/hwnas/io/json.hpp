// JSON forms of the library's result types, written once for the program,
// the experiments and users' scripts: nlohmann's to_json hooks (so
// `nlohmann::ordered_json j = metrics;` works) in the documented key order,
// and dump_json, which prints nested objects indented but arrays of numbers
// and strings on one line (a 128-d encoding is one line, not 128).
#pragma once

#include <cmath>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "hwnas/architecture.hpp"
#include "hwnas/io/arch.hpp"
#include "hwnas/metrics.hpp"
#include "hwnas/predictor/latency_predictor.hpp"
#include "hwnas/predictor/transfer.hpp"
#include "hwnas/predictor/tune.hpp"
#include "hwnas/space/layer.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas {

/// Keys in insertion order: every JSON object hwnas prints keeps the order
/// its documentation lists.
using Json = nlohmann::ordered_json;

/// OFA's spec dictionary {"ks", "e", "d", "r": [R]}.
template <class J>
void to_json(J& j, const Architecture& a) {
  j = J{{"ks", a.ks}, {"e", a.e}, {"d", a.d}, {"r", {a.r}}};
}

/// {"rmse", "rmse_pct", "mae", "mape", "median_ape", "max_error",
/// "within5", "within10", "kendall", "spearman", "n"}; every percentage in
/// percent (within5 and within10 too), NaN correlations as null.
template <class J>
void to_json(J& j, const RegressionMetrics& m) {
  j = J{{"rmse", m.rmse},          {"rmse_pct", m.rmse_pct},   {"mae", m.mae},
        {"mape", m.mape},          {"median_ape", m.median_ape}, {"max_error", m.max_error},
        {"within5", m.within5},    {"within10", m.within10},   {"kendall", m.kendall},
        {"spearman", m.spearman},  {"n", m.n}};
}

/// {"train_s", "epochs", "stop_reason", "best_epoch" (1-based, as the
/// progress lines count; null without validation rows),
/// "best_validation_rmse", "train_rows", "validation_rows", "mlp_off"}.
template <class J>
void to_json(J& j, const FitReport& r) {
  const bool validated = !r.validation_rmse.empty();
  j = J{{"train_s", r.seconds},
        {"epochs", r.epochs},
        {"stop_reason", std::string(to_string(r.stop_reason))},
        {"best_epoch", validated ? J(r.best_epoch + 1) : J(nullptr)},
        {"best_validation_rmse", validated ? J(r.best_validation_rmse) : J(nullptr)},
        {"train_rows", r.train_rows},
        {"validation_rows", r.validation_rows},
        {"mlp_off", r.mlp_off}};
}

/// One ASHA trial: its hyper-parameters, how far it ran and how well.
template <class J>
void to_json(J& j, const TrialResult& t) {
  j = J{{"index", t.index},
        {"learning_rate", t.learning_rate},
        {"momentum", t.momentum},
        {"weight_decay", t.weight_decay},
        {"epochs", t.epochs},
        {"stopped_early", t.stopped_early},
        {"stop_reason", std::string(to_string(t.stop_reason))},
        {"best_validation_rmse", t.best_validation_rmse},
        {"final_validation_rmse", t.final_validation_rmse}};
}

/// `hwnas tune --json`'s report (the Python module's hwnas.tune too): every
/// trial, the best, the wall time, then `context` (what the caller knows:
/// recipe, target, split, seed, row counts), then the schedule.
template <class J>
J tune_report_json(const TuneReport& r, const TuneOptions& o, const J& context) {
  J j = {{"trials", r.trials}, {"best", r.trials.at(r.best)}, {"tune_s", r.seconds}};
  j.update(context);
  j.update(J{{"max_epochs", o.max_epochs},
             {"grace_period", o.grace_period},
             {"reduction_factor", o.reduction_factor},
             {"rungs", asha_rungs(o.grace_period, o.reduction_factor, o.max_epochs)},
             {"threads", o.threads}});
  return j;
}

/// A base fine_tune_from fine-tuned: {"base" (its index; a program that
/// knows the bases' names replaces it), "line_fit_rmse", "validation_rmse"
/// (ms), "kept"}.
template <class J>
void to_json(J& j, const TransferCandidate& c) {
  j = J{{"base", c.base}, {"line_fit_rmse", c.line_fit_rmse}, {"validation_rmse", c.validation_rmse}, {"kept", c.kept}};
}

/// A layer of a layer list: shapes as [H, W, C], MACs and parameters.
template <class J>
void to_json(J& j, const Layer& l) {
  j = J{{"kind", std::string(to_string(l.kind))},
        {"in", {l.in_size, l.in_size, l.in_channels}},
        {"out", {l.out_size, l.out_size, l.out_channels}},
        {"kernel", l.kernel},
        {"stride", l.stride},
        {"expand", l.expand_ratio},
        {"mid", l.mid_channels},
        {"se", l.se_channels},
        {"groups", l.groups},
        {"act", std::string(to_string(l.act))},
        {"shortcut", l.shortcut},
        {"macs", l.macs()},
        {"params", l.params()}};
}

/// A space's definition: name, width, choices, resolutions, slots, stages.
template <class J>
void to_json(J& j, const MbConvSpace& space) {
  const auto& o = space.options();
  j = J{{"name", space.name()},
        {"width", o.width},
        {"kernel_choices", o.kernel_choices},
        {"expand_choices", o.expand_choices},
        {"depth_choices", o.depth_choices},
        {"resolutions", o.resolutions},
        {"slots", space.num_slots()},
        {"stages", space.num_stages()}};
}

namespace detail {

inline bool json_is_flat_array(const Json& v) {
  if (!v.is_array()) return false;
  for (const auto& e : v) {
    if (e.is_structured()) return false;
  }
  return true;
}

inline void dump_json_to(std::string& out, const Json& v, int indent, int depth) {
  const auto scalar = [](const Json& s) { return s.dump(-1, ' ', false, Json::error_handler_t::replace); };
  if (!v.is_structured()) {
    out += scalar(v);
    return;
  }
  if (v.empty()) {
    out += v.is_array() ? "[]" : "{}";
    return;
  }
  if (json_is_flat_array(v)) {
    out += '[';
    bool first = true;
    for (const auto& e : v) {
      if (!first) out += ", ";
      first = false;
      out += scalar(e);
    }
    out += ']';
    return;
  }
  const std::string pad(static_cast<std::size_t>(indent * (depth + 1)), ' ');
  out += v.is_array() ? "[\n" : "{\n";
  bool first = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!first) out += ",\n";
    first = false;
    out += pad;
    if (v.is_object()) out += scalar(Json(it.key())) + ": ";
    dump_json_to(out, it.value(), indent, depth + 1);
  }
  out += '\n' + std::string(static_cast<std::size_t>(indent * depth), ' ') + (v.is_array() ? ']' : '}');
}

}  // namespace detail

/// `value` as text: objects and arrays of objects one entry per line,
/// indented by `indent`; arrays of scalars on one line. Invalid UTF-8 (a
/// file name, say) is replaced, never thrown on.
inline std::string dump_json(const Json& value, int indent = 2) {
  std::string out;
  detail::dump_json_to(out, value, indent, 0);
  return out;
}

}  // namespace hwnas
