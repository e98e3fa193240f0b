// A small arbitrary-precision unsigned integer, for exact search-space sizes
// (OFA's MobileNetV3 space has 7371^5 * 25 sub-networks, which overflows 64
// bits). Only what counting needs: +, *, pow, comparison, decimal output.
#pragma once

#include <algorithm>
#include <compare>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "hwnas/error.hpp"

namespace hwnas {

/// Unsigned integer of any size. Little-endian 32-bit limbs with no leading
/// zero limb, so zero is the empty vector and equal values have equal limbs.
class BigUint {
 public:
  BigUint() = default;

  /// From any integer, implicitly, so `n * 25` and `n == 1` read naturally.
  /// Negative values throw; floating-point values do not convert at all.
  template <std::integral T>
  BigUint(T value) {  // NOLINT(google-explicit-constructor)
    if constexpr (std::is_signed_v<T>) {
      if (value < 0) {
        throw InvalidArgument("BigUint: expected a non-negative value, got " +
                              std::to_string(value));
      }
    }
    for (auto v = static_cast<std::uint64_t>(value); v != 0; v >>= 32) {
      limbs_.push_back(static_cast<std::uint32_t>(v));
    }
  }

  /// Little-endian limbs, without leading zeros (empty for zero).
  const std::vector<std::uint32_t>& limbs() const noexcept { return limbs_; }
  bool is_zero() const noexcept { return limbs_.empty(); }

  friend BigUint operator+(const BigUint& a, const BigUint& b) {
    BigUint out;
    const std::size_t n = std::max(a.limbs_.size(), b.limbs_.size());
    out.limbs_.resize(n + 1);
    std::uint64_t carry = 0;
    for (std::size_t i = 0; i < n; ++i) {
      carry += std::uint64_t{a.limb(i)} + b.limb(i);
      out.limbs_[i] = static_cast<std::uint32_t>(carry);
      carry >>= 32;
    }
    out.limbs_[n] = static_cast<std::uint32_t>(carry);
    out.trim();
    return out;
  }

  friend BigUint operator*(const BigUint& a, const BigUint& b) {
    BigUint out;
    if (a.is_zero() || b.is_zero()) return out;
    out.limbs_.assign(a.limbs_.size() + b.limbs_.size(), 0);
    for (std::size_t i = 0; i < a.limbs_.size(); ++i) {
      std::uint64_t carry = 0;
      for (std::size_t j = 0; j < b.limbs_.size(); ++j) {
        // (2^32-1)^2 + 2 * (2^32-1) == 2^64-1: this sum cannot overflow.
        carry += std::uint64_t{a.limbs_[i]} * b.limbs_[j] + out.limbs_[i + j];
        out.limbs_[i + j] = static_cast<std::uint32_t>(carry);
        carry >>= 32;
      }
      out.limbs_[i + b.limbs_.size()] = static_cast<std::uint32_t>(carry);
    }
    out.trim();
    return out;
  }

  // The integer overloads go through the implicit constructor.
  BigUint& operator+=(const BigUint& other) { return *this = *this + other; }
  BigUint& operator*=(const BigUint& other) { return *this = *this * other; }

  friend bool operator==(const BigUint&, const BigUint&) = default;
  friend std::strong_ordering operator<=>(const BigUint& a, const BigUint& b) {
    if (a.limbs_.size() != b.limbs_.size()) return a.limbs_.size() <=> b.limbs_.size();
    return std::lexicographical_compare_three_way(a.limbs_.rbegin(), a.limbs_.rend(),
                                                  b.limbs_.rbegin(), b.limbs_.rend());
  }

  /// base^exponent by repeated squaring; pow(x, 0) == 1, including pow(0, 0).
  /// A hidden friend (found through the BigUint argument) so that it never
  /// captures an unqualified pow(double, int) elsewhere in namespace hwnas.
  friend BigUint pow(BigUint base, unsigned exponent) {
    BigUint out(1);
    for (; exponent != 0; exponent >>= 1) {
      if (exponent & 1u) out *= base;
      if (exponent > 1) base *= base;
    }
    return out;
  }

  /// Exact decimal representation ("0" for zero).
  std::string to_string() const {
    std::vector<std::uint32_t> rest = limbs_;
    std::string digits;  // least significant first
    while (!rest.empty()) {
      // Divide by 10^9 in place; the remainder is the next nine digits.
      std::uint64_t remainder = 0;
      for (std::size_t i = rest.size(); i-- > 0;) {
        const std::uint64_t cur = (remainder << 32) | rest[i];
        rest[i] = static_cast<std::uint32_t>(cur / 1'000'000'000u);
        remainder = cur % 1'000'000'000u;
      }
      while (!rest.empty() && rest.back() == 0) rest.pop_back();
      for (int k = 0; k < 9 && (remainder != 0 || !rest.empty()); ++k, remainder /= 10) {
        digits.push_back(static_cast<char>('0' + remainder % 10));
      }
    }
    if (digits.empty()) digits.push_back('0');
    std::reverse(digits.begin(), digits.end());
    return digits;
  }

  /// Nearest double, approximately (rounding may differ in the last bit);
  /// infinity beyond the double range.
  double to_double() const noexcept {
    double out = 0.0;
    for (std::size_t i = limbs_.size(); i-- > 0;) out = out * 4294967296.0 + limbs_[i];
    return out;
  }

  /// The value, or nullopt when it does not fit in 64 bits.
  std::optional<std::uint64_t> to_uint64() const noexcept {
    if (limbs_.size() > 2) return std::nullopt;
    return (std::uint64_t{limb(1)} << 32) | limb(0);
  }

 private:
  std::uint32_t limb(std::size_t i) const noexcept { return i < limbs_.size() ? limbs_[i] : 0; }
  void trim() noexcept {
    while (!limbs_.empty() && limbs_.back() == 0) limbs_.pop_back();
  }

  std::vector<std::uint32_t> limbs_;
};

}  // namespace hwnas
