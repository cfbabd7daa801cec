'use strict';
// A grpc-js server of grpc.testing.TestService with the server features the
// standard interop cases need (doc/interop-test-descriptions.md): payloads,
// EchoStatus, metadata echo, sleeping streams. grpc-js decompresses gzip
// requests but does not compress responses, and does not tell a handler
// whether a request arrived compressed, so CompressedRequest and
// CompressedResponse are not implemented.
//
//   node server.js --port=0 --descriptors=testing.pb
//
// Once listening it prints "listening on 127.0.0.1:PORT"; SIGTERM stops it.

const { grpc, flags, services } = require('./common');

const args = flags(process.argv.slice(2));
const testing = services(args.descriptors);

function payload(size) {
  if (size < 0) {
    const err = new Error(`negative payload size ${size}`);
    err.code = grpc.status.INVALID_ARGUMENT;
    throw err;
  }
  return { type: 'COMPRESSABLE', body: Buffer.alloc(size) };
}

// echoStatus returns the error response_status asks for, or null.
function echoStatus(st) {
  if (!st || st.code === 0) {
    return null;
  }
  return { code: st.code, details: st.message };
}

// echoMetadata sends the initial metadata the client asked to be echoed and
// returns the trailing metadata to end the call with.
function echoMetadata(call) {
  const header = new grpc.Metadata();
  const trailer = new grpc.Metadata();
  for (const v of call.metadata.get('x-grpc-test-echo-initial')) {
    header.add('x-grpc-test-echo-initial', v);
  }
  for (const v of call.metadata.get('x-grpc-test-echo-trailing-bin')) {
    trailer.add('x-grpc-test-echo-trailing-bin', v);
  }
  if (header.get('x-grpc-test-echo-initial').length > 0) {
    call.sendMetadata(header);
  }
  return trailer;
}

function withTrailer(err, trailer) {
  if (err && trailer) {
    err.metadata = trailer;
  }
  return err;
}

const sleep = (us) => new Promise((resolve) => setTimeout(resolve, us / 1000));

const impl = {
  EmptyCall(call, callback) {
    callback(null, {});
  },

  UnaryCall(call, callback) {
    const trailer = echoMetadata(call);
    const st = echoStatus(call.request.response_status);
    if (st) {
      callback(withTrailer(st, trailer));
      return;
    }
    let p;
    try {
      p = payload(call.request.response_size);
    } catch (err) {
      callback(err);
      return;
    }
    callback(null, { payload: p }, trailer);
  },

  async StreamingOutputCall(call) {
    try {
      for (const rp of call.request.response_parameters) {
        if (rp.interval_us > 0) {
          await sleep(rp.interval_us);
        }
        if (call.cancelled) {
          return;
        }
        call.write({ payload: payload(rp.size) });
      }
      call.end();
    } catch (err) {
      call.destroy(err);
    }
  },

  StreamingInputCall(call, callback) {
    let sum = 0;
    call.on('data', (m) => { sum += m.payload && m.payload.body ? m.payload.body.length : 0; });
    call.on('error', () => {});
    call.on('end', () => callback(null, { aggregated_payload_size: sum }));
  },

  FullDuplexCall(call) {
    const trailer = echoMetadata(call);
    // Requests are answered in order, each after its intervals.
    let chain = Promise.resolve();
    let failed = false;
    call.on('error', () => {});
    call.on('data', (m) => {
      chain = chain.then(async () => {
        if (failed || call.cancelled) {
          return;
        }
        const st = echoStatus(m.response_status);
        if (st) {
          failed = true;
          call.emit('error', withTrailer(st, trailer));
          return;
        }
        for (const rp of m.response_parameters) {
          if (rp.interval_us > 0) {
            await sleep(rp.interval_us);
          }
          call.write({ payload: payload(rp.size) });
        }
      }).catch((err) => {
        failed = true;
        call.emit('error', err);
      });
    });
    call.on('end', () => {
      chain.then(() => {
        if (!failed && !call.cancelled) {
          call.end(trailer);
        }
      });
    });
  },

  HalfDuplexCall(call) {
    const requests = [];
    call.on('error', () => {});
    call.on('data', (m) => requests.push(m));
    call.on('end', () => {
      try {
        for (const m of requests) {
          for (const rp of m.response_parameters) {
            call.write({ payload: payload(rp.size) });
          }
        }
        call.end();
      } catch (err) {
        call.emit('error', err);
      }
    });
  },
};

const server = new grpc.Server();
server.addService(testing.TestService.service, impl);
server.bindAsync(`127.0.0.1:${args.port || 0}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`server: ${err.message}`);
    process.exit(1);
  }
  console.log(`listening on 127.0.0.1:${port}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.tryShutdown(() => process.exit(0));
    setTimeout(() => { server.forceShutdown(); process.exit(0); }, 5000).unref();
  });
}
