#!/usr/bin/env escript
%% Regenerates the ETF test vectors: cd src/codec/testdata && escript gen_vectors.escript
%% For each vector NAME it writes NAME.etf (the payload), NAME.d.etf (its d
%% encoded alone, so tests can check Scan's D byte for byte) and a line
%% "NAME op s t" in vectors.txt (s/t are "-" for nil).
main(_) ->
    Vs = vectors(),
    Lines = [write(V) || V <- Vs],
    ok = file:write_file("vectors.txt", unicode:characters_to_binary(Lines)),
    io:format("~p vectors written (OTP ~s)~n", [length(Vs), erlang:system_info(otp_release)]).

write({Name, Opts, P}) ->
    ok = file:write_file(Name ++ ".etf", term_to_binary(P, Opts)),
    ok = file:write_file(Name ++ ".d.etf", term_to_binary(get(d, P), Opts)),
    io_lib:format("~s ~w ~s ~ts~n", [Name, get(op, P), txt(get(s, P)), txt(get(t, P))]).

%% get reads a key whether the map uses atom or binary keys.
get(K, P) -> maps:get(K, P, maps:get(atom_to_binary(K), P, nil)).

txt(nil) -> "-";
txt(I) when is_integer(I) -> integer_to_list(I);
txt(A) when is_atom(A) -> atom_to_list(A);
txt(B) when is_binary(B) -> binary_to_list(B).

author() ->
    #{id => 80351110224678912, username => <<"Nelly">>, discriminator => <<"0">>,
      global_name => <<"Nelly ✓ Ünïcødé"/utf8>>, avatar => <<"8342729096ea3675442027381ff50dfe">>,
      bot => false, public_flags => 64}.

message() ->
    #{id => 1234567890123456789, channel_id => 1111111111111111111, guild_id => 81384788765712384,
      author => author(), content => <<"hello, ✓ wörld 🎉 \"quoted\" \\ back"/utf8>>,
      timestamp => <<"2026-11-27T07:00:00.000000+00:00">>, edited_timestamp => nil,
      tts => false, mention_everyone => false, mentions => [author()], mention_roles => [],
      attachments => [], embeds => [#{title => <<"t">>, color => 16711680, fields => [#{name => <<"a">>, value => <<"b">>, inline => true}]}],
      pinned => false, type => 0, nonce => <<"1234567890">>, score => 0.25}.

member(N) ->
    #{user => #{id => 100000000000000000 + N, username => iolist_to_binary(["user", integer_to_list(N)]), avatar => nil, bot => false},
      roles => [200000000000000000 + N rem 7], joined_at => <<"2020-01-01T00:00:00+00:00">>, deaf => false, mute => false}.

vectors() ->
    Msg = #{op => 0, t => 'MESSAGE_CREATE', s => 42, d => message()},
    Wide = maps:from_list([{list_to_atom("k" ++ integer_to_list(K)), K} || K <- lists:seq(1, 40)]),
    {ok, Port} = {ok, hd(erlang:ports())},
    [
     %% OTP 25 default: ATOM_EXT keys, NEW_FLOAT_EXT
     {"message_create_atom", [{minor_version, 1}], Msg},
     %% OTP 26+ default: SMALL_ATOM_UTF8_EXT keys
     {"message_create_utf8", [{minor_version, 2}], Msg},
     %% FLOAT_EXT (31-byte text floats)
     {"message_create_v0", [{minor_version, 0}], Msg},
     {"binary_keys", [], #{<<"op">> => 0, <<"t">> => <<"MESSAGE_CREATE">>, <<"s">> => 7, <<"d">> => #{<<"content">> => <<"x">>}}},
     {"heartbeat_ack", [], #{op => 11, s => nil, t => nil, d => nil}},
     {"hello", [], #{op => 10, s => nil, t => nil, d => #{heartbeat_interval => 41250, '_trace' => [<<"[\"gateway-prd-main-858d\",{\"micros\":0.0}]">>]}}},
     {"ready", [{minor_version, 2}], #{op => 0, t => 'READY', s => 1,
         d => #{v => 10, user => author(), session_id => <<"9a0b1c2d3e4f">>,
                resume_gateway_url => <<"wss://gateway-us-east1-b.discord.gg">>,
                guilds => [#{id => 1, unavailable => true}, #{id => 2, unavailable => true}, #{id => 3, unavailable => true}],
                shard => [0, 1], application => #{id => 5, flags => 0}}}},
     {"ready_no_guilds", [], #{op => 0, t => 'READY', s => 1,
         d => #{session_id => <<"s">>, resume_gateway_url => <<"wss://r">>, guilds => []}}},
     {"invalid_session_true", [], #{op => 9, s => nil, t => nil, d => true}},
     {"invalid_session_false", [], #{op => 9, s => nil, t => nil, d => false}},
     {"big_ints", [], #{op => 0, t => 'BIG', s => 9223372036854775807,
         d => #{small => 255, neg => -5, int => 300, min32 => -2147483648, i64 => -9223372036854775808,
                big => 1 bsl 70, negbig => -(1 bsl 70), huge => 1 bsl 2100}}},
     {"seq_integer_ext", [], #{op => 0, t => 'X', s => 70000, d => #{}}},
     {"seq_negative", [], #{op => 0, t => 'X', s => -1, d => []}},
     {"unicode_atoms", [{minor_version, 1}], #{op => 0, t => 'ÉVÉNEMENT_✓',  s => 3,
         d => #{'ключ' => <<"значение"/utf8>>, list_to_atom(lists:duplicate(200, 10003)) => 1}}},
     {"terms", [], #{op => 0, t => 'TERMS', s => 5,
         d => #{tuple => {1, two, <<"three">>, 4.0}, large_tuple => list_to_tuple(lists:seq(1, 300)),
                string => "abc", charlist => lists:seq(1, 300), improper => [1 | 2], nested => [[[[#{a => [{}]}]]]],
                bits => <<1:3>>, pid => self(), ref => make_ref(), export => fun erlang:abs/1,
                fn => fun(X) -> X + 1 end, port => Port, empty_map => #{}, empty_bin => <<>>}}},
     {"wide_map", [], maps:merge(Wide, #{op => 0, t => 'WIDE', s => 9, d => #{x => 1}})},
     {"no_d", [], #{op => 11, s => nil, t => nil}},
     {"guild_create_100k", [], #{op => 0, t => 'GUILD_CREATE', s => 100,
         d => #{id => 81384788765712384, name => <<"Discord API">>, member_count => 500,
                members => [member(N) || N <- lists:seq(1, 500)],
                channels => [#{id => 300000000000000000 + N, name => iolist_to_binary(["channel-", integer_to_list(N)]), type => 0, position => N, topic => nil} || N <- lists:seq(1, 200)]}}}
    ].
