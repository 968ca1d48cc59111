// The legacy rtcstats client (npm `rtcstats` 5.2.0, protocol 2.0), set up as its README says:
// trace-ws connects to `wsURL + window.location.pathname` at once (it buffers every line but
// getstats until the socket is open), rtcstats wraps RTCPeerConnection and polls getStats,
// identity goes through trace('identity', …).
import rtcstats from 'rtcstats';
import traceWs from 'rtcstats/trace-ws';

let trace;

window.rtcstatsClient = {
    family: 'legacy',
    start({ url, identity, pollInterval }) {
        trace = traceWs(url);
        rtcstats(trace, pollInterval, [ '' ]);
        trace('identity', null, identity);
    },
    stop() {
        trace.close();
    }
};
