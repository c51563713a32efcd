# bash completion for tether.
#
# Install:  cp contrib/completion/tether.bash /usr/share/bash-completion/completions/tether
# or, for one shell:  source contrib/completion/tether.bash
#
# Completes commands, their options, option values (directories, signals,
# log levels, --net), and container ids (from `tether list -q`, with the
# --root/--socket given on the line). Stand-alone: no bash-completion needed.

_tether_commands="daemon spec create start run exec list ls state kill pause resume
delete rm wait attach logs events resize stats top update checkpoint"
_tether_global_opts="--root --socket --version -h --help"

_tether_options() {
    local create="-b --bundle --rootfs -t --tty -i --interactive -e --env -w --cwd
        -u --user --hostname -m --memory --cpus --pids-limit --mount -v --volume --net --network
        --runtime -l --label --exit-command --exit-command-arg --exit-delay --exit-timeout
        --checkpoint"
    case $1 in
        daemon) echo "--detach --runtime-root --socket-group --log-level" ;;
        spec) echo "--rootfs -t --tty -i --interactive -e --env -w --cwd -u --user --hostname
            -m --memory --cpus --pids-limit --mount -v --volume --net --network" ;;
        create) echo "$create" ;;
        run) echo "$create -d --detach --rm" ;;
        exec) echo "-d --detach -t --tty -i --interactive -e --env -w --cwd --exec-id" ;;
        list|ls) echo "--json --format -q --quiet" ;;
        kill) echo "-s --signal -a --all --exec-id" ;;
        delete|rm) echo "-f --force" ;;
        wait|attach|resize) echo "--exec-id" ;;
        logs) echo "-f --follow --since --until -n --tail -t --timestamps --exec-id" ;;
        events) echo "--json --format --since --after" ;;
        stats) echo "--no-stream --json --format" ;;
        top) echo "--json --format" ;;
        update) echo "-m --memory --cpus --pids-limit" ;;
        checkpoint) echo "--image-path --leave-running" ;;
    esac
    echo "-h --help"
}

# Print the ids of the containers of the manager named on the command line.
_tether_ids() {
    local args=() i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --root|--socket) args+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}") ;;
        esac
    done
    "${COMP_WORDS[0]}" "${args[@]}" list -q 2>/dev/null
}

# Succeed if option $1 takes a value (the next word is not a positional).
_tether_takes_value() {
    case $1 in
        --root|--socket|-b|--bundle|--rootfs|-e|--env|-w|--cwd|-u|--user|--hostname|\
        -m|--memory|--cpus|--pids-limit|--mount|-v|--volume|--net|--network|--runtime|\
        -l|--label|--exec-id|--since|--until|-n|--tail|--runtime-root|--socket-group|\
        --log-level|--format|-s|--signal|--image-path|--exit-command|--exit-command-arg|\
        --exit-delay|--exit-timeout|--checkpoint) return 0 ;;
    esac
    return 1
}

_tether_signals() {
    echo "TERM KILL INT HUP QUIT USR1 USR2 STOP CONT WINCH"
}

_tether() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local command="" positional=0 i word
    COMPREPLY=()
    # 1. Find the command: the first word that is not a global option or its value.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ -z $command ]]; then
            case $word in
                --root|--socket) i=$((i + 1)) ;;
                -*) ;;
                *) command=$word ;;
            esac
        elif [[ $word == -- ]]; then
            return 0    # the process's own arguments: nothing to complete
        elif [[ $word != -* ]] && ! _tether_takes_value "${COMP_WORDS[i-1]}"; then
            positional=$((positional + 1))
        fi
    done
    # 2. Values of options.
    case $prev in
        --root|--socket|--bundle|-b|--rootfs|--runtime-root|--image-path|--checkpoint)
            COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
        --exit-command) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
        --exit-command-arg|--exit-delay|--exit-timeout) return 0 ;;
        --mount|-v|--volume) COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
        --log-level) COMPREPLY=($(compgen -W "debug info warning error" -- "$cur")); return 0 ;;
        --net|--network) COMPREPLY=($(compgen -W "host none" -- "$cur")); return 0 ;;
        --format) COMPREPLY=($(compgen -W "json table" -- "$cur")); return 0 ;;
        --tail|-n) COMPREPLY=($(compgen -W "all" -- "$cur")); return 0 ;;
        -s|--signal)
            [[ $command == kill ]] && COMPREPLY=($(compgen -W "$(_tether_signals)" -- "$cur"))
            return 0 ;;
        --runtime) COMPREPLY=($(compgen -W "runc native" -- "$cur")); return 0 ;;
        --env|-e|--cwd|-w|--user|-u|--hostname|--memory|-m|--cpus|--pids-limit|--label|-l|\
        --exec-id|--since|--until|--socket-group)
            return 0 ;;
    esac
    # 3. Before the command: global options or the command.
    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$_tether_global_opts" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$_tether_commands" -- "$cur"))
        fi
        return 0
    fi
    # 4. The command's options, or its positionals: a container id, a signal.
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_tether_options "$command")" -- "$cur"))
        return 0
    fi
    case $command in
        daemon|spec|list|ls|events) ;;
        stats) COMPREPLY=($(compgen -W "$(_tether_ids)" -- "$cur")) ;;
        kill)
            if ((positional == 0)); then
                COMPREPLY=($(compgen -W "$(_tether_ids)" -- "$cur"))
            elif ((positional == 1)); then
                COMPREPLY=($(compgen -W "$(_tether_signals)" -- "$cur"))
            fi ;;
        *)
            if ((positional == 0)); then
                COMPREPLY=($(compgen -W "$(_tether_ids)" -- "$cur"))
            fi ;;
    esac
    return 0
}

complete -F _tether tether
