// publish_gil.h — publish_gil(): give a Core's GIL a monitor page (when the
// file cannot be made, the interpreter runs unpublished). This file is
// private to the runtime.
#pragma once

namespace gilrun {

struct Core;
void publish_gil(Core& core);

}  // namespace gilrun
