// A real Wechaty puppet-service gateway for the test suite: it serves the mock puppet over gRPC on loopback,
// and a small HTTP control API lets pytest make residents speak and read what the bot sent.
//   GATEWAY_PORT, GATEWAY_TOKEN, CONTROL_PORT  (environment)
//   POST /say   {"from": "wxid_li", "text": "...", "room": "room-3@chatroom" | null, "mentions": ["bot"]}
//   GET  /sent  -> [{"conversationId", "text", "mentionIdList", "at"}]  (every text the bot sent, ms timestamps)
//   GET  /sent/count -> {"count": n}  (how many texts the bot sent: cheap to poll)
//   GET  /received -> [{"id", "talkerId", "text"}]  (every message the residents sent)
//   POST /image {"from": "wxid_li", "room": "room-3@chatroom" | null, "base64": "...", "name": "photo.jpg"}
//     a resident sends a picture (an image message whose FileBox carries those bytes)
//   POST /redeliver {"id": "..."}  -> emits that message event again (a duplicate delivery)
//   POST /reset -> clears /sent
//   POST /hold, POST /release -> from /hold on, each send is recorded but its acknowledgement to the bot is held
//     until /release (a bot killed meanwhile sent the message but never heard that it went)
//   POST /join {"room": "...", "members": [{"id", "name"}], "by": "wxid_li"} -> the room-join event's payload (new
//     contacts are created; the mock puppet emits room-join as WeChat does when members are invited)
//   POST /rejoin {payload} -> emits that room-join event again (a duplicate delivery)
//   POST /leave {"room": "..."} -> the bot is removed from that room (a room-leave event)
//   GET  /refused -> [{"conversationId", "text"}]  (sends to a room the bot is not in: refused as WeChat does)
//   room-7@chatroom holds 40 more residents, wxid_r01..wxid_r40 (居民01..居民40), for bursts from many askers
// Optional environment: GATEWAY_BOT "id:name" (default "bot:社区小助手"), the account logged in;
//   GATEWAY_ROOMS "id,id,…" more rooms of the bot, 李阿姨 and 王师傅; GATEWAY_MOCK_ROOMS N more rooms of the bot and
//   李阿姨, mock-0001@chatroom … (for fan-out to many groups)
import http from 'node:http'
import { FileBox } from 'file-box'
import { PuppetMock, mock } from 'wechaty-puppet-mock'
import { PuppetServer } from 'wechaty-puppet-service'

const port = Number(process.env.GATEWAY_PORT)
const controlPort = Number(process.env.CONTROL_PORT)
const token = process.env.GATEWAY_TOKEN
const [botId, botName] = (process.env.GATEWAY_BOT || 'bot:社区小助手').split(':')
const moreRooms = (process.env.GATEWAY_ROOMS || '').split(',').filter(Boolean)
const mockRooms = Array.from({ length: Number(process.env.GATEWAY_MOCK_ROOMS || 0) },
  (_, n) => `mock-${String(n + 1).padStart(4, '0')}@chatroom`)

const mocker = new mock.Mocker()
// The environment runs again each time a client (re)starts the puppet, so it must be idempotent.
const contact = (m, id, name) => m.cacheContactPayload.has(id) ? m.ContactMock.load(id) : m.createContact({ id, name })
const room = (m, payload) => m.cacheRoomPayload.has(payload.id) ? m.RoomMock.load(payload.id) : m.createRoom(payload)
mocker.use(m => {
  const bot = contact(m, botId, botName)
  const li = contact(m, 'wxid_li', '李阿姨')
  const wang = contact(m, 'wxid_wang', '王师傅')
  const zhao = contact(m, 'wxid_zhao', '赵老师')
  room(m, { id: 'room-3@chatroom', topic: '幸福里3号楼群', memberIdList: [bot.id, li.id, wang.id, zhao.id], ownerId: li.id })
  room(m, { id: 'room-5@chatroom', topic: '幸福里5号楼群', memberIdList: [bot.id, li.id, wang.id], ownerId: wang.id })
  const many = Array.from({ length: 40 }, (_, n) => String(n + 1).padStart(2, '0'))
    .map(n => contact(m, `wxid_r${n}`, `居民${n}`))
  room(m, { id: 'room-7@chatroom', topic: '幸福里7号楼群', memberIdList: [bot.id, ...many.map(c => c.id)], ownerId: li.id })
  for (const id of moreRooms) room(m, { id, topic: id, memberIdList: [bot.id, li.id, wang.id], ownerId: li.id })
  for (const id of mockRooms) room(m, { id, topic: id, memberIdList: [bot.id, li.id], ownerId: li.id })
  m.login(bot)
  return () => {}  // the mock calls each environment's cleanup on stop; it must be a function
})

const puppet = new PuppetMock({ mocker })
// The mock answers every image request with a QR code (its own code has the cached attachment commented out); a
// real puppet returns the picture the resident sent, as messageFile already does here.
puppet.messageImage = async (messageId) => {
  const json = mocker.cacheFileBoxPayload.get(messageId)
  if (!json) throw new Error(`no image for message ${messageId}`)
  return FileBox.fromJSON(json)
}
const sent = []
const refused = []
const sendText = puppet.messageSendText.bind(puppet)
let held = null  // {promise, release} while acknowledgements are held
const member = roomId => mocker.cacheRoomPayload.get(roomId)?.memberIdList.includes(botId)
// Like WeChat, the room list holds the rooms the bot is still in
puppet.roomList = async () => [...mocker.cacheRoomPayload.keys()].filter(member)
puppet.messageSendText = async (conversationId, text, mentionIdList) => {
  if (/@/.test(conversationId) && !member(conversationId)) {
    refused.push({ conversationId, text })
    throw new Error(`room ${conversationId} not exist`)
  }
  sent.push({ conversationId, text, mentionIdList: mentionIdList || [], at: Date.now() })
  const id = await sendText(conversationId, text)
  if (held) await held.promise
  return id
}

const received = []
puppet.on('message', ({ messageId }) => {
  const payload = mocker.messagePayload(messageId)
  if (payload.talkerId !== botId) received.push({ id: messageId, talkerId: payload.talkerId, text: payload.text })
})

const server = new PuppetServer({ endpoint: `127.0.0.1:${port}`, puppet, token, tls: { disable: true } })
await server.start()

const body = req => new Promise(resolve => {
  let data = ''
  req.on('data', chunk => { data += chunk })
  req.on('end', () => resolve(data ? JSON.parse(data) : {}))
})

http.createServer(async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/say') {
      const { from, text, room, mentions } = await body(req)
      const speaker = mocker.ContactMock.load(from)
      const mentioned = (mentions || []).map(id => mocker.ContactMock.load(id))
      const where = room ? mocker.RoomMock.load(room) : mocker.ContactMock.load(botId)
      const at = Date.now()
      speaker.say(text, mentioned).to(where)
      res.end(JSON.stringify({ ok: true, at }))
    } else if (req.method === 'POST' && req.url === '/join') {
      const { room, members, by } = await body(req)
      const joining = members.map(({ id, name }) => contact(mocker, id, name))
      let payload = null
      const seen = p => { payload = p }
      puppet.once('room-join', seen)  // add().by() emits synchronously
      mocker.RoomMock.load(room).add(...joining).by(mocker.ContactMock.load(by))
      res.setHeader('Content-Type', 'application/json')
      res.end(JSON.stringify(payload))
    } else if (req.method === 'POST' && req.url === '/rejoin') {
      puppet.emit('room-join', await body(req))
      res.end('{"ok":true}')
    } else if (req.method === 'POST' && req.url === '/image') {
      const { from, room, base64, name } = await body(req)
      const speaker = mocker.ContactMock.load(from)
      const where = room ? mocker.RoomMock.load(room) : mocker.ContactMock.load(botId)
      const at = Date.now()
      speaker.say(FileBox.fromBase64(base64, name || 'photo.jpg')).to(where)
      res.end(JSON.stringify({ ok: true, at }))
    } else if (req.method === 'GET' && req.url === '/sent') {
      res.setHeader('Content-Type', 'application/json')
      res.end(JSON.stringify(sent))
    } else if (req.method === 'GET' && req.url === '/sent/count') {
      res.setHeader('Content-Type', 'application/json')
      res.end(JSON.stringify({ count: sent.length }))
    } else if (req.method === 'GET' && req.url === '/received') {
      res.setHeader('Content-Type', 'application/json')
      res.end(JSON.stringify(received))
    } else if (req.method === 'GET' && req.url === '/refused') {
      res.setHeader('Content-Type', 'application/json')
      res.end(JSON.stringify(refused))
    } else if (req.method === 'POST' && req.url === '/leave') {
      const { room } = await body(req)
      const owner = mocker.ContactMock.load(mocker.cacheRoomPayload.get(room).ownerId)
      mocker.RoomMock.load(room).remove(mocker.ContactMock.load(botId)).by(owner)
      res.end('{"ok":true}')
    } else if (req.method === 'POST' && req.url === '/redeliver') {
      const { id } = await body(req)
      puppet.emit('message', { messageId: id })
      res.end('{"ok":true}')
    } else if (req.method === 'POST' && req.url === '/hold') {
      if (!held) {
        let release
        const promise = new Promise(resolve => { release = resolve })
        held = { promise, release }
      }
      res.end('{"ok":true}')
    } else if (req.method === 'POST' && req.url === '/release') {
      if (held) { held.release(); held = null }
      res.end('{"ok":true}')
    } else if (req.method === 'POST' && req.url === '/reset') {
      sent.length = 0
      res.end('{"ok":true}')
    } else {
      res.statusCode = 404
      res.end('{}')
    }
  } catch (error) {
    res.statusCode = 500
    res.end(JSON.stringify({ error: String(error) }))
  }
}).listen(controlPort, '127.0.0.1', () => console.log('gateway ready'))

const stop = async () => { await server.stop(); process.exit(0) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
