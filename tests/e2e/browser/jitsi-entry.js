// The Jitsi rtcstats client (@jitsi/rtcstats, protocol 3.1_STANDARD), set up the way
// lib-jitsi-meet does: trace-ws opens `${endpoint}/${meetingFqn}?statsSessionId=…`, rtcstats
// wraps RTCPeerConnection and getUserMedia and polls getStats. The page calls start() before it
// creates any peer connection, and stop() when it hangs up.
import rtcstatsInit from '@jitsi/rtcstats/rtcstats';
import traceInit from '@jitsi/rtcstats/trace-ws';

const closes = [];
let trace;

window.rtcstatsClient = {
    family: 'jitsi',
    closes,
    start({ endpoint, meetingFqn, identity, pollInterval }) {
        trace = traceInit({
            endpoint,
            meetingFqn,
            onCloseCallback: event => closes.push(event),
            useLegacy: false
        });
        rtcstatsInit(trace, { pollInterval, useLegacy: false });
        trace.connect(false);
        trace.identity('identity', null, identity);
    },
    connected() {
        return Boolean(trace && trace.isConnected());
    },
    stop() {
        trace.close();
    }
};
