package codec

import (
	"fmt"
	"strings"
)

// Realistic gateway payloads, shaped after Discord's documented objects.

func jsonUser(id int) string {
	return fmt.Sprintf(`{"id":"%d","username":"user%d","global_name":"User ✓ %d","discriminator":"0","avatar":"a_1269e74af4df7417b13759eae50c83dc","bot":false,"public_flags":64,"avatar_decoration_data":null}`, 80351110224678912+id, id, id)
}

func jsonTypingStart() []byte {
	return []byte(`{"t":"TYPING_START","s":1234,"op":0,"d":{"user_id":"80351110224678912","timestamp":1732690000,"member":{"user":` + jsonUser(1) + `,"roles":[],"joined_at":"2020-01-01T00:00:00.000000+00:00","deaf":false,"mute":false},"channel_id":"1111111111111111111","guild_id":"81384788765712384"}}`)
}

func jsonMessageCreate() []byte {
	return []byte(`{"t":"MESSAGE_CREATE","s":1234567,"op":0,"d":{"type":0,"tts":false,"timestamp":"2026-11-27T07:00:00.000000+00:00","pinned":false,"nonce":"1311015987654321000","mentions":[` + jsonUser(2) + `],"mention_roles":["41771983423143936"],"mention_everyone":false,` +
		`"member":{"roles":["41771983423143936","41771983423143937"],"premium_since":null,"pending":false,"nick":"Nelly","mute":false,"joined_at":"2019-03-01T12:00:00.000000+00:00","flags":0,"deaf":false,"communication_disabled_until":null,"avatar":null},` +
		`"id":"1311015987654321234","flags":0,"embeds":[{"type":"rich","title":"Release notes","description":"Cordis 1.0 is out: faster \"scanning\", zstd-stream and more.","url":"https://example.com/notes","color":5814783,"fields":[{"name":"Speed","value":"200k events/s","inline":true},{"name":"Memory","value":"flat","inline":true}],"footer":{"text":"cordis"}}],` +
		`"edited_timestamp":null,"content":"Hello <@80351110224678914>, have you seen the new release? It scans events without decoding them 🎉","components":[],"channel_id":"1111111111111111111","author":` + jsonUser(1) + `,"attachments":[],"guild_id":"81384788765712384"}}`)
}

func jsonGuildCreate(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"t":"GUILD_CREATE","s":5,"op":0,"d":{"id":"81384788765712384","name":"Discord API","icon":null,"owner_id":"53905483156684800","large":true,"member_count":1000,"channels":[`)
	for i := 0; i < 50; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%d","type":0,"name":"channel-%d","position":%d,"topic":"Topic of channel %d","nsfw":false,"permission_overwrites":[],"parent_id":null,"rate_limit_per_user":0}`, 300000000000000000+i, i, i, i)
	}
	b.WriteString(`],"members":[`)
	for i := 0; b.Len() < size-100; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"user":%s,"roles":["%d"],"joined_at":"2020-01-01T00:00:00+00:00","deaf":false,"mute":false}`, jsonUser(i), 200000000000000000+i%7)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}
