// ModelInfer's message pool (transport/grpc/infer_message_pool.h): a finished call's messages come back cleared with
// their tensor memory, and no more are kept than the bound.
#include "transport/grpc/infer_message_pool.h"

#include <gtest/gtest.h>

#include <string>

namespace edgeserve::transport::grpc {
namespace {

TEST(InferMessagePool, AReleasedPairComesBackClearedWithItsTensorMemory) {
  InferMessagePool pool(4);
  auto* first = pool.AllocateMessages();
  first->request()->set_model_name("resnet50");
  first->request()->add_raw_input_contents(std::string(300 << 10, 'x'));
  first->response()->add_raw_output_contents(std::string(2000, 'y'));
  const void* tensor = first->request()->raw_input_contents(0).data();
  auto* request = first->request();
  first->Release();
  EXPECT_EQ(pool.idle(), 1u);

  auto* second = pool.AllocateMessages();
  EXPECT_EQ(pool.idle(), 0u);
  ASSERT_EQ(second->request(), request);
  EXPECT_TRUE(second->request()->model_name().empty());
  EXPECT_EQ(second->request()->raw_input_contents_size(), 0);
  EXPECT_EQ(second->response()->raw_output_contents_size(), 0);
  // The next tensor of the same size lands in the memory the last one had: no allocation, no fresh pages.
  second->request()->add_raw_input_contents()->assign(300 << 10, 'z');
  EXPECT_EQ(second->request()->raw_input_contents(0).data(), tensor);
  second->Release();
}

TEST(InferMessagePool, KeepsNoMoreThanItsBound) {
  InferMessagePool pool(2);
  auto* a = pool.AllocateMessages();
  auto* b = pool.AllocateMessages();
  auto* c = pool.AllocateMessages();
  EXPECT_NE(a->request(), b->request());
  EXPECT_NE(b->request(), c->request());
  a->Release();
  b->Release();
  c->Release();  // freed: two are kept already
  EXPECT_EQ(pool.idle(), 2u);
}

}  // namespace
}  // namespace edgeserve::transport::grpc
