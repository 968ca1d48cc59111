// A two-party call inside one page: two RTCPeerConnections, the fake camera and microphone
// on the first, connected over the machine's own addresses. Whatever rtcstats client the page
// loaded before this script has wrapped RTCPeerConnection, so it traces both connections.
(function() {
    let stream;
    let caller;
    let callee;
    const states = [];

    function connected(pc) {
        return new Promise((resolve, reject) => {
            const check = () => {
                if (pc.connectionState === 'connected') {
                    resolve();
                } else if (pc.connectionState === 'failed') {
                    reject(new Error('peer connection failed'));
                }
            };

            pc.addEventListener('connectionstatechange', check);
            check();
        });
    }

    async function start() {
        stream = await navigator.mediaDevices.getUserMedia({
            audio: true,
            video: { width: 640, height: 360, frameRate: 30 }
        });
        caller = new RTCPeerConnection({});
        callee = new RTCPeerConnection({});
        for (const [ pc, other ] of [ [ caller, callee ], [ callee, caller ] ]) {
            pc.addEventListener('icecandidate', e => e.candidate && other.addIceCandidate(e.candidate));
            pc.addEventListener('connectionstatechange', () => states.push(pc.connectionState));
        }
        stream.getTracks().forEach(track => caller.addTrack(track, stream));
        const offer = await caller.createOffer();

        await caller.setLocalDescription(offer);
        await callee.setRemoteDescription(offer);
        const answer = await callee.createAnswer();

        await callee.setLocalDescription(answer);
        await caller.setRemoteDescription(answer);
        await Promise.all([ connected(caller), connected(callee) ]);

        return stream.getTracks().map(t => ({ kind: t.kind, label: t.label }));
    }

    // Stop sending media, so that the counters the client polls next equal the page's own.
    async function quiet() {
        await Promise.all(caller.getSenders().map(s => s.replaceTrack(null)));
    }

    async function totals() {
        const out = { sent: {}, received: {}, pair: null };

        for (const [ pc, side ] of [ [ caller, 'sent' ], [ callee, 'received' ] ]) {
            const report = await pc.getStats();

            report.forEach(s => {
                if (s.type === 'outbound-rtp' && side === 'sent') {
                    out.sent[s.kind] = (out.sent[s.kind] || 0) + s.packetsSent;
                } else if (s.type === 'inbound-rtp' && side === 'received') {
                    out.received[s.kind] = (out.received[s.kind] || 0) + s.packetsReceived;
                } else if (s.type === 'transport' && s.selectedCandidatePairId && side === 'sent') {
                    const pair = report.get(s.selectedCandidatePairId);
                    const local = report.get(pair.localCandidateId);
                    const remote = report.get(pair.remoteCandidateId);

                    out.pair = {
                        localType: local.candidateType,
                        remoteType: remote.candidateType,
                        protocol: local.protocol
                    };
                }
            });
        }

        return out;
    }

    function hangUp() {
        stream && stream.getTracks().forEach(t => t.stop());
        caller && caller.close();
        callee && callee.close();
    }

    window.call = { start, quiet, totals, hangUp, states };
})();
