// BigUint: exact arithmetic for search-space sizes beyond 64 bits.
#include <cstdint>
#include <limits>
#include <type_traits>

#include <doctest/doctest.h>

#include "hwnas/big_uint.hpp"

using hwnas::BigUint;

namespace {
constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();
}

TEST_CASE("big uint: zero and one") {
  const BigUint zero;
  CHECK(zero.is_zero());
  CHECK(zero.limbs().empty());
  CHECK(zero.to_string() == "0");
  CHECK(zero.to_double() == 0.0);
  CHECK(zero.to_uint64() == std::uint64_t{0});
  CHECK(BigUint(0) == zero);
  CHECK(BigUint(1).to_string() == "1");
  CHECK((zero + zero).to_string() == "0");
  CHECK((zero * BigUint(12345)).is_zero());
  CHECK((BigUint(12345) * zero).is_zero());
  CHECK((BigUint(7) * BigUint(1)).to_string() == "7");
  CHECK((zero + BigUint(9)).to_string() == "9");
  CHECK(pow(BigUint(0), 0) == BigUint(1));  // by convention
  CHECK(pow(BigUint(0), 3).is_zero());
  CHECK(pow(BigUint(1), 1000) == BigUint(1));
  CHECK(pow(BigUint(12345), 1) == BigUint(12345));
  CHECK(pow(BigUint(12345), 0) == BigUint(1));
}

TEST_CASE("big uint: powers from the MBConv spaces") {
  // 7371 = the sub-networks of one OFA MobileNetV3 stage; 117 for CompOFA.
  CHECK(pow(BigUint(7371), 5).to_string() == "21758655492572485851");
  CHECK(pow(BigUint(117), 5).to_string() == "21924480357");
  CHECK(pow(BigUint(117), 5).to_uint64() == std::uint64_t{21924480357ULL});
  CHECK(pow(BigUint(3), 45).to_string() == "2954312706550833698643");
  // 7371^5 > 2^64 - 1 = 18446744073709551615, so it does not fit.
  CHECK_FALSE(pow(BigUint(7371), 5).to_uint64().has_value());
  // The full OFA MobileNetV3 space with its 25 resolutions.
  const BigUint ofa = pow(BigUint(7371), 5) * 25;
  CHECK(ofa.to_string() == "543966387314312146275");
  CHECK(ofa.to_double() == doctest::Approx(5.43966387314312146275e20).epsilon(1e-15));
}

TEST_CASE("big uint: carries across the 64-bit boundary") {
  // (2^64 - 1)^2 = 2^128 - 2^65 + 1
  //   = 340282366920938463463374607431768211456 - 36893488147419103232 + 1
  //   = 340282366920938463426481119284349108225
  const BigUint m(kMax64);
  CHECK(m.to_string() == "18446744073709551615");
  CHECK(m.to_uint64() == kMax64);
  CHECK((m * m).to_string() == "340282366920938463426481119284349108225");
  CHECK((m * kMax64) == m * m);
  CHECK((m + 1).to_string() == "18446744073709551616");  // 2^64
  CHECK_FALSE((m + 1).to_uint64().has_value());
  CHECK((m + m).to_string() == "36893488147419103230");
  CHECK(pow(BigUint(2), 128).to_string() == "340282366920938463463374607431768211456");
  // A run of zero digit groups inside the number: 10^27 + 7.
  CHECK((pow(BigUint(10), 27) + 7).to_string() == "1000000000000000000000000007");
  CHECK(pow(BigUint(10), 18).to_string() == "1000000000000000000");
  // 2^32 exactly: one carry into a fresh limb.
  CHECK((BigUint(0xffffffffu) + 1).limbs() == std::vector<std::uint32_t>{0, 1});
}

TEST_CASE("big uint: compound assignment and integer operands") {
  BigUint x(3);
  x *= 7;
  CHECK(x == 21);
  x *= BigUint(2);
  CHECK(x == BigUint(42));
  x += 8;
  CHECK(x == 50);
  CHECK(5 + BigUint(5) == 10);
  CHECK(BigUint(6) * std::uint64_t{7} == 42);
  CHECK_THROWS_AS(BigUint(-1), hwnas::InvalidArgument);
  static_assert(!std::is_convertible_v<double, BigUint>, "no silent truncation of doubles");
}

TEST_CASE("big uint: comparison") {
  const BigUint small(5);
  const BigUint big = pow(BigUint(2), 64);
  CHECK(small < big);
  CHECK(big > small);
  CHECK(small <= small);
  CHECK(small != big);
  CHECK((small <=> BigUint(5)) == std::strong_ordering::equal);
  // Same number of limbs: decided by the most significant limb first.
  CHECK(BigUint(kMax64 - 1) < BigUint(kMax64));
  CHECK(BigUint(std::uint64_t{1} << 32) > BigUint(0xffffffffu));
  CHECK(BigUint(0x1'0000'0002ULL) > BigUint(0x0'ffff'ffffULL + 2));
  CHECK(BigUint(0) < BigUint(1));
  CHECK(pow(BigUint(7371), 5) > BigUint(1'000'000));
  CHECK(pow(BigUint(3), 45).to_double() == doctest::Approx(2.954312706550833698643e21));
}
