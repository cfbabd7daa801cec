'use strict';
// What the grpc-js client and server share: the command line and the
// grpc.testing services, loaded from a FileDescriptorSet that the Go test
// writes from grpc-go's generated descriptors (so both sides use one schema).

const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// flags parses --name=value arguments into an object.
function flags(argv) {
  const out = {};
  for (const a of argv) {
    const m = /^--([^=]+)=(.*)$/s.exec(a);
    if (!m) {
      throw new Error(`unexpected argument ${JSON.stringify(a)}: want --name=value`);
    }
    out[m[1]] = m[2];
  }
  return out;
}

// services loads grpc.testing from the descriptor set at path.
function services(path) {
  const def = protoLoader.loadFileDescriptorSetFromBuffer(fs.readFileSync(path), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
  });
  return grpc.loadPackageDefinition(def).grpc.testing;
}

module.exports = { grpc, flags, services };
