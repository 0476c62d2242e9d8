#!/usr/bin/env python3
"""scripts/check-includes.py against planted trees: each forbidden arrow is caught and named
(file, line, header, what the part may depend on); allowed arrows pass; the real tree passes."""
import pathlib
import subprocess
import sys
import tempfile
import unittest

SOURCE = pathlib.Path(sys.argv.pop(1) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
SCRIPT = SOURCE / "scripts" / "check-includes.py"


def run(root):
    p = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True)
    return p.returncode, p.stderr


def plant(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


class CheckIncludes(unittest.TestCase):
    def check(self, files):
        with tempfile.TemporaryDirectory() as d:
            plant(pathlib.Path(d), files)
            return run(d)

    def test_the_real_tree_keeps_the_rule(self):
        code, err = run(SOURCE)
        self.assertEqual(code, 0, err)

    def test_allowed_arrows_pass(self):
        code, err = self.check({
            "model/engine.cpp": '#include "model/engine.h"\n#include "base/error.h"\n#include "plugins/dsv4_kernel_abi.h"\n#include <vector>\n',
            "chat/enc.cpp": '#include "text/tokenizer.h"\n#include "local.h"\n',
            "worker/s.cpp": '#include "model/engine.h"\n#include "plugins/plugin_slot.h"\n#include "wire/protocol.h"\n',
            "gateway/http.cpp": '#include "client/client.h"\n#include "chat/chat_encoding.h"\n',
            "tools/x.cpp": '#include "worker/scheduler.h"\n',
            "tests/t.cpp": '#include "router/router.h"\n',
        })
        self.assertEqual(code, 0, err)

    def test_a_planted_violation_is_caught_and_named(self):
        code, err = self.check({
            "model/engine.cpp": '#include "model/engine.h"\n\n#include "worker/scheduler.h"\n',
        })
        self.assertEqual(code, 1)
        self.assertIn('model/engine.cpp:3: includes "worker/scheduler.h", but model/ may depend on: plugins ABI, base', err)

    def test_each_forbidden_arrow_is_caught(self):
        planted = {
            "router/r.cpp": '#include "model/engine.h"\n',           # the router never sees the model
            "model/m.cpp": '#include "plugins/plugin_loader.h"\n',   # the engine: ABI header, not the loader
            "model/c.cpp": '#include "chat/chat_encoding.h"\n',      # the engine never sees the chat format
            "kernels/k.cpp": '#include "base/error.h"\n',            # kernels: the ABI header only
            "plugins/p.cpp": '#include "base/thread_pool.h"\n',      # plugins: nothing of the others
            "wire/w.cpp": '#include "text/tokenizer.h"\n',           # the wire: no tokenizer
            "gateway/g.cpp": '#include "model/model.h"\n',           # the gateway never runs the model
            "text/t.cpp": '#include "../chat/chat_encoding.h"\n',     # no climbing out of the folder
        }
        code, err = self.check(planted)
        self.assertEqual(code, 1)
        for rel in planted:
            self.assertIn(rel + ":1:", err)
        self.assertIn("8 include(s) break the layering", err)


if __name__ == "__main__":
    unittest.main()
