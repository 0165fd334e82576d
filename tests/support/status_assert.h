// EXPECT_OK / ASSERT_OK for a core::Status or a core::Result<T>: a failure prints the expression and the
// Status's own text (code and message), never just "Value of: x.ok()". Stream more context as usual:
//   ASSERT_OK(c->call(h, input, reply, 10s)) << "via the gateway";
#pragma once

#include <gtest/gtest.h>

#include <ostream>

#include "core/status.h"

namespace edgeserve::core {
// gtest prints a StatusCode by its name (found by argument-dependent lookup), not as "2-byte object <0F-00>".
inline void PrintTo(StatusCode code, std::ostream* os) { *os << to_string(code); }
}  // namespace edgeserve::core

namespace edgeserve::testing {

inline const core::Status& status_of(const core::Status& s) { return s; }
template <class T>
const core::Status& status_of(const core::Result<T>& r) {
  return r.status();
}

template <class S>
::testing::AssertionResult is_ok(const char* expression, const S& value) {
  const core::Status& s = status_of(value);
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expression << " failed: " << s.to_string();
}

}  // namespace edgeserve::testing

#define EXPECT_OK(status_or_result) EXPECT_PRED_FORMAT1(::edgeserve::testing::is_ok, status_or_result)
#define ASSERT_OK(status_or_result) ASSERT_PRED_FORMAT1(::edgeserve::testing::is_ok, status_or_result)
