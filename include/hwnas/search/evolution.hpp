// OFA's evolutionary search (ofa-reference.md §6) over any MbConvSpace, with
// any latency source and any fitness: elitist parents, mutation and
// crossover children, one or several latency budgets that share every
// evaluation, bounded retries, memoisation, a Pareto front.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "hwnas/architecture.hpp"
#include "hwnas/detail/text.hpp"
#include "hwnas/error.hpp"
#include "hwnas/random.hpp"
#include "hwnas/search/score.hpp"
#include "hwnas/space/mbconv_space.hpp"

namespace hwnas {

struct EvolutionOptions {
  std::size_t population = 100;
  std::size_t generations = 500;
  double parent_ratio = 0.25;    ///< parents kept (elitism): round(0.25 * 100) = 25
  double mutation_ratio = 0.5;   ///< children by mutation: 50; the other 50 by crossover
  double mutate_prob = 0.1;      ///< per layer slot (kernel and expand jointly) and per stage (depth)
  double resolution_mutate_prob = 0.1;  ///< OFA's tutorial 0.1, its newer API 0.5
  CrossoverMode crossover = CrossoverMode::per_gene;
  /// Parents are the best n different networks (OFA: the best n, copies
  /// included, which can fill the parents with one network).
  bool distinct_parents = true;
  /// Latency budgets (ms); each gets its own population, all share the
  /// latency and fitness evaluations. At least one.
  std::vector<double> budgets;
  /// The constraint is latency * (1 + latency_margin) <= budget: a safety
  /// margin for estimated latencies (a predictor's relative error).
  double latency_margin = 0;
  /// Optional MAC limit (0: none).
  std::int64_t max_macs = 0;
  /// Rejected proposals are redrawn; a child slot gives up after this many
  /// rounds and the slot is left empty (CompOFA: 50).
  std::size_t max_tries = 50;
  /// Random architectures drawn for the first population of a budget before
  /// it is declared infeasible.
  std::size_t max_init_draws = 100'000;
  std::uint64_t seed = 0;
  /// Cache every score by network, so no architecture is scored twice
  /// (results are the same either way; only the evaluation count changes).
  bool memoize = true;
  /// Stop after this much wall time (0: none); the result says so.
  double time_budget_s = 0;
};

/// One evaluated architecture.
struct Candidate {
  Architecture arch;
  double fitness = 0;
  double latency = 0;
};

struct GenerationInfo {
  std::size_t generation = 0;              ///< 0-based
  std::vector<double> best_fitness;        ///< per budget, after this generation
  double elapsed_s = 0;
};

struct BudgetResult {
  double budget = 0;
  Candidate best;
  /// Best fitness after each generation (OFA's best_valids without its
  /// -100 sentinel).
  std::vector<double> history;
};

struct EvolutionResult {
  std::vector<BudgetResult> budgets;  ///< in the order given
  /// Fitness vs latency: every evaluated network that no other evaluated
  /// network beats on both (lower or equal latency and higher fitness),
  /// by latency.
  std::vector<Candidate> pareto;
  std::size_t latency_evaluations = 0;  ///< architectures sent to the latency source
  std::size_t fitness_evaluations = 0;  ///< architectures sent to the fitness
  std::size_t latency_cache_hits = 0;   ///< latency queries the cache answered (memoize)
  std::size_t fitness_cache_hits = 0;
  std::size_t generations = 0;          ///< run (fewer when stopped)
  bool stopped = false;                 ///< by the callback or the time budget
  double seconds = 0;
};

/// OFA's EvolutionFinder. `fitness` and `latency` are BatchScores; each
/// generation sends its children to each in one batch. Deterministic for
/// options.seed.
class EvolutionFinder {
 public:
  EvolutionFinder(MbConvSpace space, EvolutionOptions options);

  const MbConvSpace& space() const noexcept { return space_; }
  const EvolutionOptions& options() const noexcept { return options_; }

  /// InvalidArgument naming the budget when no random architecture meets it
  /// after options.max_init_draws draws. A fitness or latency source that
  /// knows its space (`s.space()`: model files, lookup tables) must hold every
  /// network of the searched space, else InvalidArgument naming both spaces
  /// before anything is scored: a model of another width or supernet would
  /// score networks it was never trained on. on_generation returning true
  /// stops.
  template <BatchScore Fitness, BatchScore Latency>
  EvolutionResult run(const Fitness& fitness, const Latency& latency,
                      const std::function<bool(const GenerationInfo&)>& on_generation = {}) const;

 private:
  bool fits(double latency, double budget) const { return latency * (1 + options_.latency_margin) <= budget; }

  MbConvSpace space_;
  EvolutionOptions options_;
};

// ---------------------------------------------------------------------------

namespace detail {

/// A width as OFA names its supernets: 1.0, 1.2.
inline std::string width_text(double width) {
  std::string w = format_double(width);
  if (w.find_first_of(".en") == std::string::npos) w += ".0";
  return w;
}

/// "ofa-mbv3 w1.2"
inline std::string space_label(const MbConvSpace& s) { return s.name() + " w" + width_text(s.options().width); }

/// Why `source`, a space a score was built for, does not hold every network
/// of `searched` (empty: it does). A subspace of the same supernet is
/// held: CompOFA's networks are OFA MobileNetV3 networks of the same width.
inline std::string space_not_covered(const MbConvSpace& source, const MbConvSpace& searched) {
  const auto& o = source.options();
  const auto& s = searched.options();
  const auto subset = [](const std::vector<int>& small, const std::vector<int>& big, const char* what) {
    for (int v : small) {
      if (std::find(big.begin(), big.end(), v) == big.end()) return std::string(what) + " " + std::to_string(v);
    }
    return std::string();
  };
  if (o.family != s.family || source.num_slots() != searched.num_slots()) return "another supernet";
  if (o.width != s.width) return "width " + width_text(s.width) + ", not " + width_text(o.width);
  if (o.num_classes != s.num_classes) return std::to_string(s.num_classes) + " classes";
  if (source.fixed_kernel()) {
    if (s.stage_kernels != o.stage_kernels) return "kernels other than its fixed stage kernels";
  } else if (auto k = subset(searched.fixed_kernel() ? s.stage_kernels : s.kernel_choices, o.kernel_choices,
                             "kernel");
             !k.empty()) {
    return k;
  }
  if (source.coupled()) {
    if (s.depth_expand != o.depth_expand) return "expand ratios not coupled to depths as in it";
  } else {
    std::vector<int> expands = s.expand_choices;
    if (searched.coupled()) {
      expands.clear();
      for (auto [d, e] : s.depth_expand) expands.push_back(e);
    }
    if (auto e = subset(expands, o.expand_choices, "expand ratio"); !e.empty()) return e;
  }
  for (std::size_t i = 0; i < source.num_stages(); ++i) {
    if (auto d = subset(searched.stages()[i].depth_choices, source.stages()[i].depth_choices, "depth"); !d.empty()) {
      return d + " in stage " + std::to_string(i);
    }
  }
  return subset(s.resolutions, o.resolutions, "resolution");
}

/// InvalidArgument when a score that knows its space (`what`: "fitness",
/// "latency source") cannot score every network of `searched`.
template <class S>
void check_score_space(const S& score, const MbConvSpace& searched, const char* what) {
  if constexpr (requires { { score.space() } -> std::convertible_to<const MbConvSpace&>; }) {
    const MbConvSpace& source = score.space();
    if (const auto why = space_not_covered(source, searched); !why.empty()) {
      throw InvalidArgument(std::string("search: the ") + what + "'s space " + space_label(source) +
                            " does not hold every network of the searched space " + space_label(searched) + " (" +
                            why + "); use a " + what + " built for " + space_label(searched) + " or search its space");
    }
  }
}

}  // namespace detail

inline EvolutionFinder::EvolutionFinder(MbConvSpace space, EvolutionOptions options)
    : space_(std::move(space)), options_(std::move(options)) {
  const auto& o = options_;
  auto fraction = [](const char* name, double v) {
    if (!(v >= 0 && v <= 1)) throw InvalidArgument(std::string("search: ") + name + " must be in [0, 1], found " + detail::format_double(v));
  };
  fraction("parent_ratio", o.parent_ratio);
  fraction("mutation_ratio", o.mutation_ratio);
  fraction("mutate_prob", o.mutate_prob);
  fraction("resolution_mutate_prob", o.resolution_mutate_prob);
  if (o.population < 2) throw InvalidArgument("search: population must be at least 2");
  if (std::llround(o.parent_ratio * static_cast<double>(o.population)) < 1) {
    throw InvalidArgument("search: parent_ratio * population must round to at least 1 parent");
  }
  if (o.budgets.empty()) throw InvalidArgument("search: no latency budget");
  for (double b : o.budgets) {
    if (!std::isfinite(b) || b <= 0) throw InvalidArgument("search: budgets must be finite and > 0 ms, found " + detail::format_double(b));
  }
  if (!std::isfinite(o.latency_margin) || o.latency_margin < 0) {
    throw InvalidArgument("search: latency_margin must be finite and >= 0, found " + detail::format_double(o.latency_margin));
  }
  if (o.max_macs < 0) throw InvalidArgument("search: max_macs must be >= 0");
  if (o.max_tries == 0 || o.max_init_draws == 0) throw InvalidArgument("search: max_tries and max_init_draws must be positive");
  if (!(o.time_budget_s >= 0)) throw InvalidArgument("search: time_budget_s must be >= 0");
}

template <BatchScore Fitness, BatchScore Latency>
EvolutionResult EvolutionFinder::run(const Fitness& fitness, const Latency& latency,
                                     const std::function<bool(const GenerationInfo&)>& on_generation) const {
  detail::check_score_space(fitness, space_, "fitness");
  detail::check_score_space(latency, space_, "latency source");
  const auto start = std::chrono::steady_clock::now();
  const auto& o = options_;
  const auto n_parents = static_cast<std::size_t>(std::llround(o.parent_ratio * static_cast<double>(o.population)));
  const auto n_mutate = static_cast<std::size_t>(std::llround(o.mutation_ratio * static_cast<double>(o.population)));
  const std::size_t n_cross = o.population - std::min(n_mutate, o.population);
  const MbConvSpace::MutationOptions mutation{.probability = o.mutate_prob,
                                              .resolution_probability = o.resolution_mutate_prob};
  Rng rng(o.seed);
  EvolutionResult result;

  // Every score goes through these, so budgets share evaluations.
  const Memoized<Latency> lat(space_, latency, o.memoize);
  const Memoized<Fitness> fit(space_, fitness, o.memoize);
  std::unordered_map<std::uint64_t, Candidate> seen;  // for the Pareto front
  // Architectures that met the budget, with their latencies: add fitness.
  auto score = [&](std::vector<Candidate> cands) {
    std::vector<Architecture> archs;
    archs.reserve(cands.size());
    for (const auto& c : cands) archs.push_back(c.arch);
    const auto f = fit.predict(archs);
    for (std::size_t i = 0; i < cands.size(); ++i) {
      cands[i].fitness = f[i];
      seen.try_emplace(space_.hash(cands[i].arch), cands[i]);
    }
    return cands;
  };
  auto macs_ok = [&](const Architecture& a) { return o.max_macs == 0 || space_.cost(a).macs <= o.max_macs; };
  // Proposals are filtered by latency in batches: each round proposes one
  // architecture per open slot, and a slot that fails max_tries rounds stays
  // empty.
  auto fill = [&](std::size_t slots, double budget, std::size_t max_rounds,
                  const std::function<Architecture(std::size_t)>& propose) {
    std::vector<Candidate> accepted(slots);
    std::vector<bool> done(slots, false);
    std::size_t open = slots;
    for (std::size_t round = 0; round < max_rounds && open > 0; ++round) {
      std::vector<Architecture> batch;
      std::vector<std::size_t> slot_of;
      for (std::size_t s = 0; s < slots; ++s) {
        if (done[s]) continue;
        Architecture a = propose(s);
        if (!macs_ok(a)) continue;
        batch.push_back(std::move(a));
        slot_of.push_back(s);
      }
      if (batch.empty()) continue;
      const auto l = lat.predict(batch);
      for (std::size_t j = 0; j < batch.size(); ++j) {
        if (fits(l[j], budget)) {
          accepted[slot_of[j]] = {std::move(batch[j]), 0.0, l[j]};
          done[slot_of[j]] = true;
          --open;
        }
      }
    }
    std::vector<Candidate> out;
    for (std::size_t s = 0; s < slots; ++s) {
      if (done[s]) out.push_back(std::move(accepted[s]));
    }
    return out;
  };

  struct Run {
    double budget;
    std::vector<Candidate> population;
    BudgetResult result;
  };
  std::vector<Run> runs;
  for (double budget : o.budgets) {
    // The first population: random architectures that meet the budget,
    // drawn in batches of the population size.
    std::vector<Candidate> init;
    std::size_t draws = 0;
    while (init.size() < o.population && draws < o.max_init_draws) {
      std::vector<Architecture> batch;
      for (std::size_t i = 0; i < o.population && draws < o.max_init_draws; ++i, ++draws) {
        Architecture a = space_.sample(rng);
        if (macs_ok(a)) batch.push_back(std::move(a));
      }
      if (batch.empty()) continue;
      const auto l = lat.predict(batch);
      for (std::size_t j = 0; j < batch.size() && init.size() < o.population; ++j) {
        if (fits(l[j], budget)) init.push_back({std::move(batch[j]), 0.0, l[j]});
      }
    }
    if (init.empty()) {
      throw InvalidArgument("search: no architecture of " + space_.name() + " meets the budget " +
                            detail::format_double(budget) + " ms" +
                            (o.latency_margin > 0 ? " with a margin of " + detail::format_double(o.latency_margin) : "") +
                            (o.max_macs > 0 ? " and " + std::to_string(o.max_macs) + " MACs" : "") + " in " +
                            std::to_string(draws) + " random draws");
    }
    Run r{budget, score(std::move(init)), {}};
    r.result.budget = budget;
    r.result.best.fitness = -std::numeric_limits<double>::infinity();
    runs.push_back(std::move(r));
  }

  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  for (std::size_t g = 0; g < o.generations; ++g) {
    GenerationInfo info;
    info.generation = g;
    for (auto& r : runs) {
      // Rank (stable, best first), track the best, keep the parents.
      std::stable_sort(r.population.begin(), r.population.end(),
                       [](const Candidate& a, const Candidate& b) { return a.fitness > b.fitness; });
      if (r.population.front().fitness > r.result.best.fitness) r.result.best = r.population.front();
      if (o.distinct_parents) {
        // The best n_parents different networks: copies of one network
        // would crowd the parents and stall a small space's search.
        std::vector<Candidate> distinct;
        std::unordered_set<std::uint64_t> taken;
        for (auto& c : r.population) {
          if (distinct.size() == n_parents) break;
          if (taken.insert(space_.hash(c.arch)).second) distinct.push_back(std::move(c));
        }
        r.population = std::move(distinct);
      } else {
        r.population.resize(std::min(n_parents, r.population.size()));
      }
      const auto& parents = r.population;
      auto pick = [&] { return parents[rng.uniform_index(parents.size())].arch; };
      std::vector<Architecture> mutate_from(n_mutate);
      for (auto& p : mutate_from) p = pick();
      auto children = fill(n_mutate, r.budget, o.max_tries,
                           [&](std::size_t s) { return space_.mutate(mutate_from[s], rng, mutation); });
      std::vector<std::pair<Architecture, Architecture>> cross_from(n_cross);
      for (auto& [a, b] : cross_from) a = pick(), b = pick();
      auto crossed = fill(n_cross, r.budget, o.max_tries, [&](std::size_t s) {
        return space_.crossover(cross_from[s].first, cross_from[s].second, rng, o.crossover);
      });
      children.insert(children.end(), std::make_move_iterator(crossed.begin()), std::make_move_iterator(crossed.end()));
      auto scored = score(std::move(children));
      r.population.insert(r.population.end(), std::make_move_iterator(scored.begin()),
                          std::make_move_iterator(scored.end()));
      r.result.history.push_back(r.result.best.fitness);
      info.best_fitness.push_back(r.result.best.fitness);
    }
    result.generations = g + 1;
    info.elapsed_s = elapsed();
    const bool out_of_time = o.time_budget_s > 0 && info.elapsed_s >= o.time_budget_s;
    if ((on_generation && on_generation(info)) || out_of_time) {
      result.stopped = g + 1 < o.generations;
      break;
    }
  }
  for (auto& r : runs) {
    // The last generation's children count too (OFA ranks them never).
    for (const auto& c : r.population) {
      if (c.fitness > r.result.best.fitness) r.result.best = c;
    }
    result.budgets.push_back(std::move(r.result));
  }
  // Pareto front: by latency, then fitness (best first), then the network's
  // hash (a fixed order for ties); keep strict improvements.
  std::vector<std::pair<std::uint64_t, Candidate>> all(std::make_move_iterator(seen.begin()),
                                                       std::make_move_iterator(seen.end()));
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    if (a.second.latency != b.second.latency) return a.second.latency < b.second.latency;
    if (a.second.fitness != b.second.fitness) return a.second.fitness > b.second.fitness;
    return a.first < b.first;
  });
  double best = -std::numeric_limits<double>::infinity();
  for (auto& [key, c] : all) {
    if (c.fitness > best) {
      best = c.fitness;
      result.pareto.push_back(std::move(c));
    }
  }
  result.latency_evaluations = lat.misses();
  result.fitness_evaluations = fit.misses();
  result.latency_cache_hits = lat.hits();
  result.fitness_cache_hits = fit.hits();
  result.seconds = elapsed();
  return result;
}

}  // namespace hwnas
