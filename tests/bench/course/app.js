// The course app's call, as the course writes it: camera and microphone on join, one
// RTCPeerConnection, the member already in the room makes the offer when `welcome` arrives,
// the newcomer answers, ICE candidates go through the server, the remote stream goes into a
// <video>. No ICE servers (loopback). `?transport=polling` keeps Socket.IO on long-polling;
// without it Socket.IO does what it does by default (polling, then upgrade to WebSocket).
/* global io */
'use strict';

const forcePolling = new URLSearchParams(location.search).get('transport') === 'polling';
const socket = forcePolling ? io({ transports: ['polling'] }) : io();

const welcome = document.getElementById('welcome');
const call = document.getElementById('call');
const form = document.getElementById('join-form');
const myFace = document.getElementById('myFace');
const peerFace = document.getElementById('peerFace');

let myStream;
let myPeerConnection;
let roomName;

// For the benchmark only: which transport Socket.IO is on, and that it is connected.
function showTransport() {
  document.body.dataset.transport = socket.io.engine.transport.name;
}
socket.on('connect', () => {
  showTransport();
  socket.io.engine.on('upgrade', showTransport);
  document.body.dataset.ready = 'true';
});

async function getMedia() {
  myStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  myFace.srcObject = myStream;
}

function handleIce(event) {
  if (event.candidate) socket.emit('ice', event.candidate, roomName);
}

function handleTrack(event) {
  if (peerFace.srcObject !== event.streams[0]) peerFace.srcObject = event.streams[0];
}

function makeConnection() {
  myPeerConnection = new RTCPeerConnection();
  myPeerConnection.addEventListener('icecandidate', handleIce);
  myPeerConnection.addEventListener('track', handleTrack);
  myStream.getTracks().forEach((track) => myPeerConnection.addTrack(track, myStream));
}

async function initCall() {
  await getMedia();
  makeConnection();
  welcome.hidden = true;
  call.hidden = false;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = form.querySelector('input');
  roomName = input.value;
  await initCall();
  socket.emit('join_room', roomName);
});

// Someone joined after me: I make the offer.
socket.on('welcome', async () => {
  const offer = await myPeerConnection.createOffer();
  await myPeerConnection.setLocalDescription(offer);
  socket.emit('offer', offer, roomName);
});

// I joined after someone: I answer.
socket.on('offer', async (offer) => {
  await myPeerConnection.setRemoteDescription(offer);
  const answer = await myPeerConnection.createAnswer();
  await myPeerConnection.setLocalDescription(answer);
  socket.emit('answer', answer, roomName);
});

socket.on('answer', (answer) => {
  myPeerConnection.setRemoteDescription(answer);
});

socket.on('ice', (ice) => {
  myPeerConnection.addIceCandidate(ice);
});
