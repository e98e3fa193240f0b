// OFA's evolutionary search (ofa-reference.md §6) over any SearchSpace (an
// MbConvSpace, a CategoricalSpace, a user's space), with any latency source
// and any fitness: elitist parents, mutation and crossover children, one or
// several latency budgets that share every evaluation, bounded retries,
// memoisation, a Pareto front.
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
#include <type_traits>
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
#include "hwnas/space/search_space.hpp"

namespace hwnas {

struct EvolutionOptions {
  std::size_t population = 100;
  std::size_t generations = 500;
  double parent_ratio = 0.25;    ///< parents kept (elitism): round(0.25 * 100) = 25
  double mutation_ratio = 0.5;   ///< children by mutation: 50; the other 50 by crossover
  /// Per layer slot (kernel and expand jointly) and per stage (depth); per
  /// decision in a space without layer slots.
  double mutate_prob = 0.1;
  /// MBConv spaces: OFA's tutorial 0.1, its newer API 0.5.
  double resolution_mutate_prob = 0.1;
  /// MBConv spaces; a categorical space crosses over per decision.
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
  /// Optional MAC limit (0: none); for spaces with a layer list (cost()).
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
template <class Arch>
struct BasicCandidate {
  Arch arch;
  double fitness = 0;
  double latency = 0;
};
using Candidate = BasicCandidate<Architecture>;

struct GenerationInfo {
  std::size_t generation = 0;              ///< 0-based
  std::vector<double> best_fitness;        ///< per budget, after this generation
  double elapsed_s = 0;
};

template <class Arch>
struct BasicBudgetResult {
  double budget = 0;
  BasicCandidate<Arch> best;
  /// Best fitness after each generation (OFA's best_valids without its
  /// -100 sentinel).
  std::vector<double> history;
};

template <class Arch>
struct BasicEvolutionResult {
  std::vector<BasicBudgetResult<Arch>> budgets;  ///< in the order given
  /// Fitness vs latency: every evaluated network that no other evaluated
  /// network beats on both (lower or equal latency and higher fitness),
  /// by latency.
  std::vector<BasicCandidate<Arch>> pareto;
  std::size_t latency_evaluations = 0;  ///< architectures sent to the latency source
  std::size_t fitness_evaluations = 0;  ///< architectures sent to the fitness
  std::size_t latency_cache_hits = 0;   ///< latency queries the cache answered (memoize)
  std::size_t fitness_cache_hits = 0;
  std::size_t generations = 0;          ///< run (fewer when stopped)
  bool stopped = false;                 ///< by the callback or the time budget
  double seconds = 0;
};
using BudgetResult = BasicBudgetResult<Architecture>;
using EvolutionResult = BasicEvolutionResult<Architecture>;

/// OFA's EvolutionFinder over `Space`. `fitness` and `latency` are
/// BatchScores of its architectures; each generation sends its children to
/// each in one batch. Deterministic for options.seed.
template <SearchSpace Space>
class BasicEvolutionFinder {
 public:
  using Arch = typename Space::arch_type;
  using Result = BasicEvolutionResult<Arch>;

  /// InvalidArgument for bad options, and for max_macs in a space without a
  /// layer list.
  BasicEvolutionFinder(Space space, EvolutionOptions options);

  const Space& space() const noexcept { return space_; }
  const EvolutionOptions& options() const noexcept { return options_; }

  /// InvalidArgument naming the budget when no random architecture meets it
  /// after options.max_init_draws draws. A fitness or latency source that
  /// knows its space (`s.space()`: model files, lookup tables) must hold every
  /// network of the searched space, else InvalidArgument naming both spaces
  /// before anything is scored: a model of another width or supernet would
  /// score networks it was never trained on. on_generation returning true
  /// stops.
  template <class Fitness, class Latency>
    requires BatchScore<Fitness, Arch> && BatchScore<Latency, Arch>
  Result run(const Fitness& fitness, const Latency& latency,
             const std::function<bool(const GenerationInfo&)>& on_generation = {}) const;

 private:
  bool fits(double latency, double budget) const { return latency * (1 + options_.latency_margin) <= budget; }

  Space space_;
  EvolutionOptions options_;
};
/// The search over OFA's MBConv spaces.
using EvolutionFinder = BasicEvolutionFinder<MbConvSpace>;

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
/// "latency source") cannot score every network of `searched`: for MBConv
/// spaces, space_not_covered; for any other space, a different space.
template <class S, class Space>
void check_score_space(const S& score, const Space& searched, const char* what) {
  if constexpr (requires { { score.space() } -> std::convertible_to<const Space&>; }) {
    const Space& source = score.space();
    if constexpr (std::is_same_v<Space, MbConvSpace>) {
      if (const auto why = space_not_covered(source, searched); !why.empty()) {
        throw InvalidArgument(std::string("search: the ") + what + "'s space " + space_label(source) +
                              " does not hold every network of the searched space " + space_label(searched) + " (" +
                              why + "); use a " + what + " built for " + space_label(searched) + " or search its space");
      }
    } else if (!(source == searched)) {
      throw InvalidArgument(std::string("search: the ") + what + " was built for space '" + source.name() +
                            "', not the searched space '" + searched.name() + "' (or the same name with other choices)");
    }
  }
}

/// OFA's mutation and crossover for an MbConvSpace; a space's own defaults
/// with the per-decision probability otherwise.
template <class Space>
auto mutation_of(const Space& space, const typename Space::arch_type& arch, Rng& rng, const EvolutionOptions& o) {
  if constexpr (std::is_same_v<Space, MbConvSpace>) {
    return space.mutate(arch, rng, {.probability = o.mutate_prob, .resolution_probability = o.resolution_mutate_prob});
  } else if constexpr (requires { space.mutate(arch, rng, typename Space::MutationOptions{.probability = 0.1}); }) {
    return space.mutate(arch, rng, typename Space::MutationOptions{.probability = o.mutate_prob});
  } else {
    return space.mutate(arch, rng);
  }
}

template <class Space>
auto crossover_of(const Space& space, const typename Space::arch_type& a, const typename Space::arch_type& b, Rng& rng,
                  const EvolutionOptions& o) {
  if constexpr (std::is_same_v<Space, MbConvSpace>) {
    return space.crossover(a, b, rng, o.crossover);
  } else {
    return space.crossover(a, b, rng);
  }
}

}  // namespace detail

template <SearchSpace Space>
BasicEvolutionFinder<Space>::BasicEvolutionFinder(Space space, EvolutionOptions options)
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
  if (o.max_macs > 0) {
    bool has_layers = false;  // a space with cost(); a categorical one only where it describes its layers
    if constexpr (requires(const Arch& a) { space_.cost(a).macs; }) {
      has_layers = true;
      if constexpr (requires { space_.has_layers(); }) has_layers = space_.has_layers();
    }
    if (!has_layers) {
      throw InvalidArgument("search: max_macs needs a space with a layer list; space '" + space_.name() +
                            "' has none");
    }
  }
  if (o.max_tries == 0 || o.max_init_draws == 0) throw InvalidArgument("search: max_tries and max_init_draws must be positive");
  if (!(o.time_budget_s >= 0)) throw InvalidArgument("search: time_budget_s must be >= 0");
}

template <SearchSpace Space>
template <class Fitness, class Latency>
  requires BatchScore<Fitness, typename Space::arch_type> && BatchScore<Latency, typename Space::arch_type>
auto BasicEvolutionFinder<Space>::run(const Fitness& fitness, const Latency& latency,
                                      const std::function<bool(const GenerationInfo&)>& on_generation) const
    -> Result {
  detail::check_score_space(fitness, space_, "fitness");
  detail::check_score_space(latency, space_, "latency source");
  const auto start = std::chrono::steady_clock::now();
  const auto& o = options_;
  const auto n_parents = static_cast<std::size_t>(std::llround(o.parent_ratio * static_cast<double>(o.population)));
  const auto n_mutate = static_cast<std::size_t>(std::llround(o.mutation_ratio * static_cast<double>(o.population)));
  const std::size_t n_cross = o.population - std::min(n_mutate, o.population);
  using Candidate = BasicCandidate<Arch>;
  Rng rng(o.seed);
  Result result;

  // Every score goes through these, so budgets share evaluations.
  const Memoized<Latency, Space> lat(space_, latency, o.memoize);
  const Memoized<Fitness, Space> fit(space_, fitness, o.memoize);
  std::unordered_map<std::uint64_t, Candidate> seen;  // for the Pareto front
  // Architectures that met the budget, with their latencies: add fitness.
  auto score = [&](std::vector<Candidate> cands) {
    std::vector<Arch> archs;
    archs.reserve(cands.size());
    for (const auto& c : cands) archs.push_back(c.arch);
    const auto f = fit.predict(archs);
    for (std::size_t i = 0; i < cands.size(); ++i) {
      cands[i].fitness = f[i];
      seen.try_emplace(space_.hash(cands[i].arch), cands[i]);
    }
    return cands;
  };
  auto macs_ok = [&](const Arch& a) {
    if constexpr (requires { space_.cost(a).macs; }) return o.max_macs == 0 || space_.cost(a).macs <= o.max_macs;
    return true;
  };
  // Proposals are filtered by latency in batches: each round proposes one
  // architecture per open slot, and a slot that fails max_tries rounds stays
  // empty.
  auto fill = [&](std::size_t slots, double budget, std::size_t max_rounds,
                  const std::function<Arch(std::size_t)>& propose) {
    std::vector<Candidate> accepted(slots);
    std::vector<bool> done(slots, false);
    std::size_t open = slots;
    for (std::size_t round = 0; round < max_rounds && open > 0; ++round) {
      std::vector<Arch> batch;
      std::vector<std::size_t> slot_of;
      for (std::size_t s = 0; s < slots; ++s) {
        if (done[s]) continue;
        Arch a = propose(s);
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
    BasicBudgetResult<Arch> result;
  };
  std::vector<Run> runs;
  for (double budget : o.budgets) {
    // The first population: random architectures that meet the budget,
    // drawn in batches of the population size.
    std::vector<Candidate> init;
    std::size_t draws = 0;
    while (init.size() < o.population && draws < o.max_init_draws) {
      std::vector<Arch> batch;
      for (std::size_t i = 0; i < o.population && draws < o.max_init_draws; ++i, ++draws) {
        Arch a = space_.sample(rng);
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
      std::vector<Arch> mutate_from(n_mutate);
      for (auto& p : mutate_from) p = pick();
      auto children = fill(n_mutate, r.budget, o.max_tries,
                           [&](std::size_t s) { return detail::mutation_of(space_, mutate_from[s], rng, o); });
      std::vector<std::pair<Arch, Arch>> cross_from(n_cross);
      for (auto& [a, b] : cross_from) a = pick(), b = pick();
      auto crossed = fill(n_cross, r.budget, o.max_tries, [&](std::size_t s) {
        return detail::crossover_of(space_, cross_from[s].first, cross_from[s].second, rng, o);
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
